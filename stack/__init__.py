"""The stack runner: prepares and supervises the three services (API, action server, Rasa).

`python -m stack run` is what `make run` calls. It is run with the API's environment (.venv) and
starts Rasa and the action server from the Rasa environment (.venv-rasa).
"""
