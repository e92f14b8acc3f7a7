# The two set-up commands of the README: `make run` and `make test`. Each installs what it
# needs on a fresh machine (virtual environment, pinned packages, Debian test fixtures).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint schema install system-deps bench clean triton-env conformance-deps client-env client web

$(STAMP): pyproject.toml constraints.txt requirements-nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip==26.3"
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	# Packages whose declared dependencies are wrong for us (GUI OpenCV, torchvision): no deps.
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

run: $(STAMP) web
	$(VENV)/bin/mediakg serve

# The explorer (web/): `npm ci` when the lockfile changed, `npm run build` (type check, Vite,
# GraphiQL's files) when a source did, into web/dist, which `mediakg serve` serves at /. Without
# npm it is skipped (/ then says how to build it), unless MEDIAKG_REQUIRE_SERVICES is set.
WEB_SOURCES := $(shell find web/src web/scripts -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/.build-stamp: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build --silent
	touch $@

web:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory web/dist/.build-stamp; \
	  else echo "web: npm not found; the explorer is not built (its page says how to build it)"; \
	  [ -z "$$MEDIAKG_REQUIRE_SERVICES" ] || [ "$$MEDIAKG_REQUIRE_SERVICES" = 0 ] || exit 1; fi

# The Triton server's own environment (scripts/triton-env.sh says why it is separate). A failed
# build does not stop the suite: the Triton tests then skip and name the build log; unless
# MEDIAKG_REQUIRE_SERVICES is set (.ci/run): then it fails the run.
triton-env:
	bash scripts/triton-env.sh || { [ -z "$$MEDIAKG_REQUIRE_SERVICES" ] || [ "$$MEDIAKG_REQUIRE_SERVICES" = 0 ] || exit 1; \
	  echo "triton-env: not built; Triton tests will skip (var/triton-env.log)"; }

# The public conformance suites' Node.js packages (tests/conformance/package-lock.json). Without
# Node.js the conformance tests skip, unless MEDIAKG_REQUIRE_SERVICES is set.
conformance-deps:
	@if command -v npm >/dev/null; then npm ci --prefix tests/conformance --no-audit --no-fund --loglevel=error; \
	  else echo "conformance-deps: npm not found; tests/test_conformance.py will skip"; fi

# ariadne-codegen's own environment (scripts/client-env.sh), for the typed client's drift test.
client-env:
	bash scripts/client-env.sh || { [ -z "$$MEDIAKG_REQUIRE_SERVICES" ] || [ "$$MEDIAKG_REQUIRE_SERVICES" = 0 ] || exit 1; \
	  echo "client-env: not built; the client drift test will skip (var/client-env.log)"; }

# Regenerate app/client/ after changing graphql/schema.graphql or graphql/operations/.
client: client-env
	.venv-codegen/bin/python scripts/generate_client.py

test: $(STAMP) system-deps triton-env conformance-deps client-env web
	bash scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Every benchmarks/*_bench.py and api_load.py, each beside its baseline measured in the same run;
# the results and this machine's facts go into docs/benchmarks.md (benchmarks/run.py).
bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

schema: $(STAMP)
	$(VENV)/bin/mediakg schema export graphql/schema.graphql

clean:
	rm -rf $(VENV) .venv-triton .venv-codegen var .mypy_cache .ruff_cache .pytest_cache web/node_modules web/dist
