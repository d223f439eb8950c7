"""Tests of the deployment files in docker/ (image, Ray cluster launcher, KubeRay)."""
