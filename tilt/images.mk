# Image targets; the root Makefile pulls them in with:  include tilt/images.mk
#
#   make images                      build switchyard/{gateway,session,relay,upload}:$(TAG)
#   make images TAG=v0.1.0 IMAGE_REGISTRY=ghcr.io/acme
#   make image-gateway               one service
#   make push-images                 docker push every image (needs IMAGE_REGISTRY or a login)
#
# TAG defaults to "dev"; the chart uses image.tag (default: Chart appVersion),
# so install with --set image.tag=$(TAG) when you build your own tags.

IMAGE_SERVICES ?= gateway session relay upload
IMAGE_PREFIX   ?= switchyard
IMAGE_REGISTRY ?=
TAG            ?= dev
DOCKER         ?= docker
DOCKER_BUILD_FLAGS ?=

image_ref = $(if $(IMAGE_REGISTRY),$(IMAGE_REGISTRY)/)$(IMAGE_PREFIX)/$(1):$(TAG)

IMAGE_TARGETS := $(addprefix image-,$(IMAGE_SERVICES))
IMAGE_PUSH_TARGETS := $(addprefix push-image-,$(IMAGE_SERVICES))

.PHONY: images push-images $(IMAGE_TARGETS) $(IMAGE_PUSH_TARGETS)

images: $(IMAGE_TARGETS)

$(IMAGE_TARGETS): image-%:
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) --build-arg SERVICE=$* -t $(call image_ref,$*) .

push-images: $(IMAGE_PUSH_TARGETS)

$(IMAGE_PUSH_TARGETS): push-image-%: image-%
	$(DOCKER) push $(call image_ref,$*)
