# ferry — build, test, demo and benchmarks on Debian.
# `make demo` and `make test` install what is missing (apt-get, as root or through sudo).

SWIFT ?= swift
APT_PACKAGES := libcurl4-openssl-dev libsqlite3-dev pkg-config docker-registry skopeo umoci apache2-utils openssl curl time
# Chromium renders the HTML report in one test; it is large, so it is installed only when missing.
APT_OPTIONAL := chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test demo bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES) $(APT_OPTIONAL); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps
	$(SWIFT) build
	./scripts/demo.sh

bench: deps
	$(SWIFT) build -c release
	./scripts/bench.sh

clean:
	rm -rf .build
