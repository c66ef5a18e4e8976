# Every target runs on Node 24 from node_modules (the machine's default node may be older).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NPM_STAMP := node_modules/.install-stamp
NODE_TEST := node --test --test-reporter=spec
TEST_FILES = $(shell find test -name '*.test.ts' | sort)
UNIT_FILES = $(filter-out %.int.test.ts %.e2e.test.ts,$(TEST_FILES))
INT_FILES = $(filter %.int.test.ts %.e2e.test.ts,$(TEST_FILES))

.PHONY: all install tools system-deps lint format typecheck manifests check-manifests test test-unit test-int test-continuity test-handoff test-campaign test-adversarial \
        bench cluster cluster-down demo demo-down image

all: test

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NPM_STAMP)

# Debian packages the tests use (PostgreSQL, nginx, Lua); installs only what is missing.
system-deps:
	@bash test/support/system-deps.sh

# Control-plane tools built from the Go module proxy, cached under ~/.cache/callfleet/.
tools:
	@bash test/cluster/build-tools.sh >/dev/null
	@bash test/cluster/third-party-crds.sh >/dev/null

lint: install
	biome check .

format: install
	biome check --write .

typecheck: install
	tsc --noEmit

manifests: install
	node bin/callfleet.ts crds --out crds
	node bin/callfleet.ts crds --docs docs/api.md
	node charts/generate.ts

# CI fails when crds/ is out of date with the zod schemas.
check-manifests: install
	@if [ -f cdk8s/api/crd.ts ]; then node bin/callfleet.ts crds --check crds; fi
	node charts/generate.ts --check

# Builds the shipped Dockerfile for real with podman (the base image is built locally under the name the
# Dockerfile names: no registry is reachable here). IMAGE=... to choose the tag. Prints size and build time.
image: install system-deps
	@bash test/image/build.sh

test-unit: install
	$(NODE_TEST) $(UNIT_FILES)

test-int: install system-deps tools
	$(NODE_TEST) --test-concurrency=1 $(INT_FILES)

# Issue 7's call-continuity scenarios alone (real operator, process kubelet, nginx, simulated calls).
test-continuity: install system-deps tools
	$(NODE_TEST) test/e2e/call-continuity.e2e.test.ts

# Issue 20's outbound campaign end to end (CAMPAIGN_RECIPIENTS=1000 by default; make test runs it too).
test-campaign: install system-deps tools
	$(NODE_TEST) test/e2e/campaign.e2e.test.ts

# Issue 11 at full size: 60 calls of 5–10 minutes, 60 s hand-off deadline (make test runs a short version).
test-handoff: install system-deps tools
	HANDOFF_CALLS=$${HANDOFF_CALLS:-60} HANDOFF_MIN_S=$${HANDOFF_MIN_S:-300} HANDOFF_MAX_S=$${HANDOFF_MAX_S:-600} \
	HANDOFF_DEADLINE_S=$${HANDOFF_DEADLINE_S:-60} $(NODE_TEST) test/e2e/handoff.e2e.test.ts

# Issue 15's adversarial suite at full size (make test runs it small), one file at a time so the
# attacks of one file do not share the machine with another's measurements.
test-adversarial: install system-deps
	ADVERSARIAL_SCALE=full $(NODE_TEST) --test-concurrency=1 test/adversarial/*.test.ts

test: install system-deps tools lint typecheck check-manifests
	$(NODE_TEST) --test-concurrency=2 $(TEST_FILES)

bench: install
	npm run bench

cluster: install tools
	@node test/cluster/cli.ts up

cluster-down: install
	@node test/cluster/cli.ts down

# The whole system on one machine: control plane, Helm-installed operator, MemoryStore, VoiceAgent, calls
# through nginx, a rolling update under live calls, a summary. It keeps running until `make demo-down`.
demo: install system-deps tools
	@node test/demo/demo.ts up

demo-down: install
	@node test/demo/demo.ts down
