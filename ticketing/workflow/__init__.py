"""The handling loop after the hand-off (交办 → 签收 → 办理 → 答复 → 审核 → 回访 → 办结 → 考评).

The platform dispatches a ticket to a department or a county's remote seat (a *unit*); the
unit's handlers sign for it, return it or answer it; the platform reviews the answer, presses
late units (督办), asks the citizen (一事一评) and evaluates every unit (考评).  Each step is an
audited event on the ticket's timeline.  No HTTP, no Redis: the gateway calls these functions
inside one transaction per action and tells people (units' mail, live desks) after the commit.
"""
