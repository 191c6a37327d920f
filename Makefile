# The two commands: `make run` (set up and start everything) and `make test` (set up and test everything).
# Every target sets up what is missing first; a second run with nothing changed costs seconds.
SHELL := /bin/bash
PY := .venv/bin/python
RASA := .venv-rasa/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_CACHE_DIRECTORY := $(CURDIR)/var/rasa-cache
export MPLCONFIGDIR := $(CURDIR)/var/mpl

.PHONY: run run-scaled test setup setup-test train lint validate pytest pytest-actions pytest-postgres bench bench-stack bench-chat bench-chat-paced bench-rasa bench-relay nlu-heldout nlu-crossval clean help

help:
	@echo "make run    - set up and start the API, the action server and Rasa (Ctrl-C stops them)"
	@echo "make test   - set up and run every test (lint, rasa data validate, pytest incl. browser and conversation tests)"
	@echo "make train  - train the Rasa model if data/, config.yml or domain.yml changed"
	@echo "make bench  - run the benchmarks and write bench/results/"
	@echo "make nlu-heldout  - score the trained model on tests/nlu/heldout.yml; report in docs/nlu/"
	@echo "make nlu-crossval - 5-fold cross-validation of data/nlu (20 to 50 minutes); report in docs/nlu/"
	@echo "make bench-chat - chat latency through the transport vs straight to Rasa (bench/results/chat.md)"
	@echo "make bench-chat-paced - the same with 3 s of think time between turns (bench/results/chat-paced.md)"
	@echo "make bench-rasa - Rasa's latency and CPU per turn, two configurations side by side (bench/rasa_variants.py)"
	@echo "make bench-relay - the relay's own latency and CPU per turn, Rasa left out (bench/relay_overhead.py)"
	@echo "make run-scaled - nginx, two API workers, two Rasa servers on PostgreSQL and Redis (docs/scale-out.md)"

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --browser --nginx

run: setup
	@$(PY) -m stack run

# The scaled-out layout (docs/scale-out.md); DATABASE_URL and LOCK_STORE_URL may be overridden.
run-scaled: setup
	@scripts/setup.sh --nginx
	@DATABASE_URL=$${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/cbp_scaled} \
	  LOCK_STORE_URL=$${LOCK_STORE_URL:-redis://127.0.0.1:6379/1} $(PY) -m stack run-scaled --timeout 600

train: setup
	@$(PY) -m stack train

lint:
	$(PY) -m ruff check api stack bench tests actions bot
	$(PY) -m ruff format --check api stack bench tests actions bot
	$(PY) -m mypy api stack
	$(PY) -m mypy --python-executable .venv-rasa/bin/python --python-version 3.10 actions bot/nlu bot/tracker_store.py

validate:
	$(RASA) data validate --fail-on-warnings --domain domain.yml --data data --config config.yml

pytest:
	$(PY) -m pytest

# The chat's storage has statements of its own for PostgreSQL (api/chat/service.py: one round trip per write):
# its tests run again there, in a database of their own on TEST_POSTGRES_URL's server (tests/conftest.py;
# by default the local server of stack/localhost.py).
pytest-postgres:
	DATABASE_URL=$${TEST_POSTGRES_URL:-$$($(PY) -c 'from stack.localhost import LOCAL_POSTGRES; print(LOCAL_POSTGRES)')} \
	  $(PY) -m pytest tests/api/chat tests/api/handoff -q

# The custom actions' unit tests run in the action server's own environment (Python 3.10).
pytest-actions:
	.venv-rasa/bin/python -m pytest tests/actions -q --confcutdir=tests/actions

test: setup-test lint validate
	@$(PY) -m stack train
	@$(MAKE) --no-print-directory pytest-actions
	@$(MAKE) --no-print-directory pytest
	@$(MAKE) --no-print-directory pytest-postgres

bench: setup
	$(PY) -m bench.stack_bench

# NLU reports published to docs/nlu/ (markdown and confusion matrix); make test runs the held-out check itself.
nlu-heldout: train
	$(PY) -m bench.nlu_eval heldout --publish

nlu-crossval: setup
	$(PY) -m bench.nlu_eval crossval --folds 5 --publish

# Chat latency through the public transport vs straight to Rasa, 1/10/50 concurrent (bench/results/chat.md).
bench-chat: setup
	$(PY) -m bench.chat_bench

# The same with suppliers pausing between turns (mean 3 s): the load real suppliers make (chat-paced.md).
bench-chat-paced: setup
	$(PY) -m bench.chat_bench --think 3

# Rasa configurations side by side, straight to Rasa (bench/rasa_variants.py; bench/results/rasa-variants.md).
# Other variants, or an earlier commit's code: .venv/bin/python -m bench.rasa_variants --variant "before@REV:" --variant "after:"
bench-rasa: setup
	$(PY) -m bench.rasa_variants --variant "tracker rebuilt each turn:RASA_CACHED_CONVERSATIONS=0" --variant "as configured:"

# The relay's own cost per turn, against a stand-in for Rasa that answers at once (bench/relay_overhead.py).
bench-relay: setup
	$(PY) -m bench.relay_overhead

clean:
	rm -rf var/run var/log var/test-results tests/artifacts
