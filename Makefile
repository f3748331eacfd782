# Valor: every entry point. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES := node_modules/.package-lock.json
FERRETDB := .tools/bin/ferretdb
export ONNXRUNTIME_NODE_INSTALL := skip

.PHONY: help setup build proto lint test bench demo baseline-demo study models value-model value-eval reward-diff db-up db-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# `npm ci` refuses a lock file that lacks optional platform packages the registry
# mirror does not serve (e.g. @bufbuild/buf-darwin-arm64); `npm install` then
# installs the same locked versions.
$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	@touch $@

$(FERRETDB): infra/local/build-ferretdb.sh
	infra/local/build-ferretdb.sh

setup: $(NODE_MODULES) $(FERRETDB) ## Install npm packages and build FerretDB (idempotent)

build: $(NODE_MODULES) ## Compile TypeScript to dist/
	npx tsc -p tsconfig.json

proto: $(NODE_MODULES) ## Lint the protos and regenerate shared/gen with ts-proto
	cd proto && npx buf lint && npx buf generate

lint: proto ## buf lint, breaking-change check, codegen drift check, type check
	@if git rev-parse --verify -q main >/dev/null && git cat-file -e main:proto/buf.yaml 2>/dev/null; then \
	  cd proto && npx buf breaking --against '../.git#branch=main,subdir=proto'; fi
	@git diff --exit-code --stat -- shared/gen || { echo "shared/gen is out of date with proto/: run 'make proto' and commit" >&2; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- shared/gen)" || { echo "untracked generated files in shared/gen" >&2; exit 1; }
	npx tsc -p tsconfig.json --noEmit

test: setup build ## Run every test (starts and stops its own FerretDB instances)
	node --test --test-concurrency=2 $$(find dist -name '*.test.js' | sort)

bench: setup build ## Benchmarks: in-process vs gRPC, printed side by side
	node dist/test/bench/baseline-bench.js
	node dist/services/reward/bench/reward-bench.js
	node dist/test/bench/policy-bench.js
	node dist/services/replay/bench/replay-bench.js
	node dist/services/value/bench/value-bench.js

DEMO_CONFIG ?= services/trainer/configs/demo.yaml
DEMO_REPORT ?= .valor/demo/report

demo: setup build ## Six training runs on CPU (GRPO k=4/16, DAPO, PVPO, V0.5, ReVal), then their report (about 4 min)
	node dist/services/trainer/cli/valor.js train --config $(DEMO_CONFIG)
	node dist/services/trainer/cli/valor.js report --config $(DEMO_CONFIG) --reference demo-grpo-k16 --out $(DEMO_REPORT) \
	  --title "Valor demo: six algorithms on the built-in arithmetic task"

baseline-demo: setup build ## A scripted session against a real baseline service and FerretDB
	node dist/test/demo/baseline-demo.js

study: $(NODE_MODULES) build ## Baseline estimator study: tables, charts and HTML report in docs/study
	node dist/services/baseline/study/main.js

models: ## Rebuild the built-in policy (Python: SFT warm start, ONNX graphs, goldens, pytest); dev-time only
	models/build.sh

value-model: ## Train the value model (Python: data, meta-training, ONNX, goldens, eval, pytest); dev-time only
	models/value/build.sh

value-eval: ## Re-evaluate the value model and rewrite its goldens and report (no training)
	models/value/build.sh --eval-only

reward-diff: setup build ## Differential check of the reward verifier against HF Math-Verify (Python)
	python3 -m pip install -q math-verify==0.9.0
	node dist/services/reward/bench/reward-diff.js

db-up: setup build ## Start a long-lived local FerretDB on 127.0.0.1:27017 (VALOR_DB_PORT)
	infra/local/db.sh up

db-down: ## Stop it
	infra/local/db.sh down

clean: ## Remove build outputs
	rm -rf dist
