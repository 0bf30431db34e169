# ferry — build, test, demo and benchmarks on Debian.
# `make demo` and `make test` install what is missing (apt-get, as root or through sudo).

SWIFT ?= swift
# What building needs, and what the tests, the demo and the benchmarks add.
BUILD_PACKAGES := libcurl4-openssl-dev libsqlite3-dev pkg-config
APT_PACKAGES := $(BUILD_PACKAGES) docker-registry skopeo umoci apache2-utils openssl curl time
# Chromium renders the HTML report in one test; it is large, so it is installed only when missing.
APT_OPTIONAL := chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The shipped binary carries the Swift runtime, so a machine without a Swift toolchain (an air-gapped site) needs
# only libcurl4 and libsqlite3-0; it also starts faster (no dynamic symbol binding of the Swift libraries).
RELEASE_FLAGS := -c release --static-swift-stdlib

.PHONY: deps build-deps build release test demo bench bench-build bench-scale clean

deps: PACKAGES = $(APT_PACKAGES) $(APT_OPTIONAL)
build-deps: PACKAGES = $(BUILD_PACKAGES)
deps build-deps:
	@missing=""; for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: build-deps
	$(SWIFT) build

release: build-deps
	$(SWIFT) build $(RELEASE_FLAGS) --product ferry
	@echo "built $$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/ferry (run-time needs: libcurl4, libsqlite3-0)"

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps
	$(SWIFT) build
	./scripts/demo.sh

# Product by product: a plain `build` would also link GRDB's dynamic library product, which cannot take a static
# Swift runtime.
bench-build: deps
	for product in ferry ferry-devtool ferry-bench; do $(SWIFT) build $(RELEASE_FLAGS) --product $$product || exit 1; done

# Every figure: scripts/bench.sh, then the scale figure (scripts/bench-scale.sh, issue 8).
bench: bench-build
	./scripts/bench.sh
	./scripts/bench-scale.sh

# The scale figure alone; BENCH_SCALE_SIZES="500 2000" make bench-scale for a quicker run.
bench-scale: bench-build
	./scripts/bench-scale.sh

clean:
	rm -rf .build
