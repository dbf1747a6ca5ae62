# casevault — the two commands: `make run` and `make test`.
VENV   ?= .venv
# The newest CPython 3.12+ on PATH, else python3: from 3.12 coverage traces with sys.monitoring,
# which takes about a third off the suite's time.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12; do $$p -c '' 2>/dev/null && { echo $$p; exit; }; done; echo python3)
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint bench demo clean translations

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
	CASEVAULT_COOKIE_SECURE=false $(BIN)/casevault serve --host $(HOST) --port $(PORT)

# Lint and types first; then the suite in two workers that steal tests from each other (each
# starts what it needs — the S3 API server, the OpenID provider — on free loopback ports and
# stops it again), with coverage printed at the end.
test: $(BIN)/casevault tests/oidc/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/mypy
	COVERAGE_CORE=$$($(BIN)/python -c 'import sys; print("sysmon" if sys.version_info >= (3, 12) else "ctrace")') \
		$(BIN)/pytest -n 2 --dist worksteal

# The OpenID provider the single sign-on tests run against (version pinned in its lockfile).
tests/oidc/node_modules/.package-lock.json: tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund

# The message keys the templates and code use, merged into both catalogues (Chinese, English):
# run after adding or removing a key, then write its texts in both .po files (the compile step
# only counts what is still untranslated; a catalogue without a header counts as fuzzy to it). The portal reads the .po files themselves when it
# starts, so nothing compiled is kept and a fresh clone needs no build step; the files carry no
# header, so a run changes nothing but the keys. tests/test_translations.py fails while a
# catalogue is out of date, a key lacks a language, or the two disagree on fields.
translations: $(BIN)/casevault
	mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d portal/locale -D messages --no-fuzzy-matching \
		--ignore-obsolete --no-wrap --omit-header
	for locale in zh_CN en; do $(BIN)/pybabel compile --statistics --use-fuzzy -l $$locale -D messages \
		-i portal/locale/$$locale/LC_MESSAGES/messages.po -o build/messages-$$locale.mo || exit 1; done

bench: $(BIN)/casevault
	$(BIN)/python -m bench.deposit

clean:
	rm -rf $(VENV) var bench/out .pytest_cache
