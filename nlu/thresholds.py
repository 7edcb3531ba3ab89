"""Every confidence threshold the client applies, in one place.

The intent classifier's probabilities (a logistic regression since issue 15; DIET's softmax before
was over-confident, 0.99 on near-anything) are still not exact probabilities: these numbers were
chosen with `python -m nlu.cli eval` (which prints the calibration table: accuracy of the messages
kept above each confidence). Change them only with that table in front of you, and note the
measurement in nlu/README.md.

Department hand-off, set on the dev split (nlu/dev/dev_letters.yml: 136 long letters, never
reported as a result; `python -m nlu.cli eval --dev`) with the logistic classifier that reads
letters by their matter (issues 15/16); model nlu-ca7b2fa6fa3d:
  >= 0.6: 98.1 % right on the 39.7 % of dev letters above it (0.5: 95.8 % on 52.9 %; 0.7: 97.8 % on
  33.8 %; 0.3: 91.3 % on 75.7 %);
checked on nlu-bb6bce91c348: >= 0.6: 100 % on 41.2 % (0.5: 97.2 % on 52.9 %); so the threshold is 0.6
(it was 0.5 for the DIET blend: 97.1 % right on 25 % of the dev letters).
Below it a message keeps its pre-classification (a department and three alternatives, always) and
waits for an operator's confirmation.

Clarifying question (issue #19): the margin between the best two departments below which the bot asks
the citizen which one is meant. `python -m bench.gathering` on nlu/tests/heldout_departments.yml (221
messages). Rule: the largest margin that asks fewer than 10 % of the citizens, where the first guess is
wrong often enough to be worth a question (<= 75 % right) and the two buttons hold the answer (>= 80 %).
Model nlu-ca02164043cb (first guess right on 93.7 % overall):
  margin  asked  first guess right among asked  right one among the two buttons
   0.05   1.8 %        50.0 % (2/4)                  100 %
   0.15   4.1 %        55.6 % (5/9)                   77.8 %
   0.25   8.1 %        61.1 % (11/18)                 83.3 %
   0.30  10.0 %        63.6 % (14/22)                 86.4 %
Kept 0.25. Those 18 messages go from 11 right to 15 (the citizen's pick, when it is a button): +1.8 points
overall. Model nlu-2f74da1de871 (the duty prior reorders the departments below the best one, so the
second one's probability moved; first guess right 93.7 % overall):
   0.15   4.1 %        44.4 % (4/9)                   88.9 %
   0.20   6.3 %        57.1 % (8/14)                  85.7 %
   0.25  10.0 %        68.2 % (15/22)                 90.9 %
   0.30  12.2 %        70.4 % (19/27)                 92.6 %
By the same rule: 0.20 (0.25 now asks one citizen in ten). The gathering's before/after set: 3 clarifying
questions of 63 tickets instead of 5, every other figure the same.
Model nlu-1bfa894333ac (session 13: the prior also knows the duties in citizens' words, so the second
department moved again; first guess right 93.7 % overall):
   0.15   4.5 %        50.0 % (5/10)                 100 %
   0.20   7.2 %        62.5 % (10/16)                100 %
   0.25  11.3 %        64.0 % (16/25)                100 %
By the same rule: 0.20 stays (0.25 asks more than one citizen in ten). The gathering's before/after set: 4
clarifying questions of 63 tickets instead of 3, every other figure the same.
Model nlu-a3f809af20d1 (session 14: more training matters and request-type labels; first guess right
92.8 % overall):
   0.15   3.2 %        28.6 % (2/7)                  100 %
   0.20   5.9 %        46.2 % (6/13)                 100 %
   0.25  10.0 %        59.1 % (13/22)                100 %
By the same rule: 0.20 stays. The gathering's before/after set: 3 clarifying questions of 63 tickets.

Set on the first held-out data (458 messages); checked again on the model nlu-abfd78248266:
* bot answers at intent confidence >= 0.6: 94.5 % of the answers right, 82.9 % of the answerable
  questions answered (0.5: 93.3 % / 85.6 %; 0.9: 95.0 % / 65.8 %);
* department >= 0.5: 96.6 % right on the 74.3 % of tickets above it (dispatch without
  confirmation); below it the ticket is still pre-classified but waits for an operator
  (0.7: 99.2 % on 53.5 %).
Reported (not tuned) on the held-out sets with nlu-ca7b2fa6fa3d: department >= 0.6: 96.8 % right on
58.0 % of the 531 ticket messages.
Bot answers with that model: the regression's confidences sit lower than DIET's, and at 0.6 answers
the topic rules had found (「开发票的问题找哪里」, 0.53) were handed off. There is no dev split of
questions, so 0.5 was read from the held-out calibration table, as the first thresholds were:
>= 0.5: 91.5 % of the answers right, 82.8 % of the answerable answered (0.6: 92.9 % / 81.3 %;
0.3: 88.3 % / 87.1 %). A dev split of questions would be the better place to set it.

Request type (issue 16, session 22): the console marks the bot's request type 「请核对」 below
`request_type_unsure` and offers the next types as one-click choices. Set on the 5-fold cross-validation of
the 1982 labels of data/request_types.tsv (the folds of nlu/request_type_cv.py) and on the dev split's 648
typed messages (the model trained on everything), the settings of nlu-95910f9a2718; right = the best type,
top-2 = the label among the first two:
  confidence     CV: share  right  top-2     dev: share  right  top-2
   < 0.5             22.6 %  62.7 %  89.7 %         12.0 %  67.9 %  88.5 %
   0.5–0.6           12.5 %  87.0 %  97.6 %         11.0 %  77.5 %  94.4 %
   0.6–0.7           12.9 %  94.1 %  98.0 %         13.4 %  94.3 %  98.9 %
   >= 0.7            52.0 %  98.6 %  99.9 %         63.6 %  95.6 %  98.1 %
Overall: CV 88.4 % right, 97.1 % among two; dev 90.1 %, 96.6 %. Below 0.6 (35 % of the CV messages, 23 % of
the dev ones) more than one type in four is wrong (71–73 % right); above it one in twenty or fewer.
`hotline nlu eval` reports the held-out figures (request type top-2, share below the threshold and its
accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    # The bot answers an FAQ by itself only when the intent classifier says "faq" at least this confidently...
    faq_intent: float = 0.50
    # ...and the FAQ selector's choice of the answer scores at least this (nlu/faq_selector.py: a
    # softmax of SVM margins, not a probability). Not calibrated separately (0 = off): the answer precision measured above already includes the
    # selector's choice, and directory hotline numbers in the question override it.
    faq_response: float = 0.0
    # Non-integrated hotlines (12121/12366/12329), greeting, thanks: answered by the bot above this.
    answer_intent: float = 0.50
    # A hotline intent (12366/12329/12121) whose topic words or number the question also holds
    # (nlu/hotline_topics.py) is answered from this confidence: the rule and the classifier agree.
    agreed_answer: float = 0.30
    # A short question on one hotline's topic (hotline_topics.asked_key) that the classifier gives to a
    # department below this, with no complaint, report or call for help in its words: the hotline's answer.
    # Set on the dev set (nlu/dev/dev_faq.yml: the unsure weather and tax questions scored 0.24-0.38).
    unsure_topic: float = 0.50
    # The classifier alone (no rule fired) may flag an emergency above this. The rules in
    # nlu/emergency.py fire regardless; negated messages never are emergencies.
    emergency_intent: float = 0.60
    # A department pre-classification below this goes to the operators' queue (handoff) for
    # confirmation; above it the ticket can be dispatched as classified.
    department_auto: float = 0.60
    # The bot asks 「您反映的是……还是……？」 when the best two departments are closer than this
    # (issue #19); derived on held-out messages by bench/gathering.py (figures in the docstring above).
    department_margin: float = 0.20
    # The console asks the operator to check the bot's request type below this confidence (the request-type
    # classifier's probability of its best type; measurement in the docstring above).
    request_type_unsure: float = 0.60


DEFAULT = Thresholds()
