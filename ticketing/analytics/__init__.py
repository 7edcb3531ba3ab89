"""Decisions from the data: the dashboard's figures (read from daily rollups), the rollups'
incremental refresh, hot spots (rising topics, bursts in one region) and the monthly report.

Reads the ticket store and the evaluation (考评); nothing below imports it.
"""
