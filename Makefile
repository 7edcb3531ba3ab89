# The two commands: `make run` and `make test`. Everything else is set-up they call.
SHELL := /bin/bash
# The first interpreter of each version that really runs (a pyenv shim may exist and fail).
find_python = $(shell for p in $(1) $$HOME/.pyenv/versions/$(2).*/bin/python$(2); do \
  $$p -c 'import sys' >/dev/null 2>&1 && { command -v $$p; break; }; done)
PY311 ?= $(call find_python,python3.11 python3,3.11)
PY310 ?= $(call find_python,python3.10,3.10)
VENV := .venv
RASA_VENV := .venv-rasa

.PHONY: run test venv rasa-venv nlu-model lint-imports browser clean

run: venv rasa-venv
	@echo "[make] 3/3 serving; the NLU model trains/loads in the background (see /healthz)"
	$(VENV)/bin/hotline run

test: venv rasa-venv nlu-model
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Trained outside pytest (a first training takes minutes); a no-op when the data hash has a model.
nlu-model: venv rasa-venv
	$(VENV)/bin/hotline nlu train

venv: $(VENV)/.installed
# pip speaks as it goes (a first install takes minutes): one "Collecting/Installing" line per package.
$(VENV)/.installed: requirements.lock pyproject.toml
	@echo "[make] 1/3 gateway virtualenv $(VENV) (Python 3.11): $$(grep -c '==' requirements.lock) packages"
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r requirements.lock
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off --no-deps -e .
	touch $@
	@echo "[make] 1/3 done"

rasa-venv: $(RASA_VENV)/.installed
$(RASA_VENV)/.installed: nlu/requirements-rasa.txt
	@test -n "$(PY310)" || { echo "Python 3.10 is needed for Rasa 3.6 (set PY310=/path/to/python3.10)"; exit 1; }
	@echo "[make] 2/3 NLU virtualenv $(RASA_VENV) (Python 3.10, Rasa 3.6 and TensorFlow: the longest step)"
	test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r nlu/requirements-rasa.txt
	touch $@
	@echo "[make] 2/3 done"

lint-imports: venv
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) $(RASA_VENV) .pytest_cache
