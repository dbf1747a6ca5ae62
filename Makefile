# casevault — the two commands: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: run test lint bench demo clean

$(BIN)/casevault: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# Embedded defaults only: SQLite and the FileStore under ./var. The browser talks plain
# HTTP to 127.0.0.1, so the session cookie is not marked Secure here. Serving never creates or
# migrates the database: `migrate` does, first.
run: $(BIN)/casevault
	$(BIN)/casevault migrate
	$(BIN)/casevault demo
	CASEVAULT_COOKIE_SECURE=false $(BIN)/casevault serve --host 127.0.0.1 --port 8000

# Starts what the suite needs (the S3 API server on a free loopback port, from the test
# session itself), runs everything in two workers (each test file whole in one), and stops it again.
test: $(BIN)/casevault tests/oidc/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile

# The OpenID provider the single sign-on tests run against (version pinned in its lockfile).
tests/oidc/node_modules/.package-lock.json: tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund

bench: $(BIN)/casevault
	$(BIN)/python -m bench.deposit

clean:
	rm -rf $(VENV) var bench/out .pytest_cache
