"""Hyperparameter search: a study is a job whose trials are ordinary model jobs.

``space`` parses and checks a search (torch- and Optuna-free), ``manager`` runs studies on
Optuna with its storage in our database, ``routes`` shows them.
"""

STUDY = "study"
