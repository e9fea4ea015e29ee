"""Bundled templates: metadata, assets, and refusing anything but a bundled name."""

from __future__ import annotations

import pytest

from shieldx.camouflage.decoys import UnknownTemplateError, list_templates, load_template
from shieldx.camouflage.decoys.templates import PageTemplate


def test_every_required_server_is_bundled_with_its_metadata() -> None:
    infos = {info.name: info for info in list_templates()}
    assert {(i.server, i.version) for i in infos.values()} >= {
        ("nginx", "1.22.1"),
        ("Apache httpd", "2.4.71"),
        ("Microsoft IIS httpd", "10.0"),
        ("Apache Tomcat", "9.0.107"),
    }
    for info in infos.values():
        assert info.description and "\n" not in info.description
        assert info.dialect in {"nginx", "apache", "iis", "tomcat"}


def test_templates_load_their_files_from_the_package() -> None:
    nginx = load_template("nginx-1.22.1-debian")
    page = nginx.files["/index.nginx-debian.html"]
    assert page.body.startswith(b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!")
    assert (len(page.body), page.content_type, page.mtime) == (615, "text/html", 1700000000)
    assert load_template("nginx-1.22.1-debian") is nginx  # loaded once


@pytest.mark.parametrize("name", ["../etc", "nginx/../../x", "", "NGINX", "a" * 80, "missing"])
def test_only_bundled_names_load(name: str) -> None:
    with pytest.raises(UnknownTemplateError) as caught:
        load_template(name)
    assert "bundled templates are:" in str(caught.value)


@pytest.mark.parametrize("asset", ["../template.yaml", "/etc/passwd", "a/../../b", ".hidden"])
def test_assets_outside_the_template_directory_are_refused(asset: str) -> None:
    with pytest.raises(ValueError, match="relative paths"):
        load_template("iis-10.0").asset(asset)


def test_slots_are_filled_and_text_is_kept_verbatim() -> None:
    page = PageTemplate("<p>${method} {not a slot} $5 ${method}</p>", ["method"])
    assert page.render({"method": "GET"}) == b"<p>GET {not a slot} $5 GET</p>"
    assert page.slots == {"method"}


def test_values_are_not_evaluated() -> None:
    page = PageTemplate("${host}", ["host"])
    assert page.render({"host": "${host}{0}%s"}) == b"${host}{0}%s"


def test_unknown_slots_fail_at_load_time() -> None:
    with pytest.raises(ValueError, match="unknown slots"):
        PageTemplate("${method} ${secret}", ["method"])


def test_installed_files_get_per_install_dates_and_packaged_files_keep_theirs() -> None:
    from shieldx.camouflage.decoys import load_template as load

    template = load("apache-2.4.71-debian")
    anchor = 1_800_000_000.0
    one = template.installed(b"install-one" * 3, anchor)
    again = template.installed(b"install-one" * 3, anchor)
    two = template.installed(b"install-two" * 3, anchor)
    page = template.files["/index.html"]
    assert one.files["/index.html"].mtime == again.files["/index.html"].mtime
    assert one.files["/index.html"].mtime != two.files["/index.html"].mtime
    assert page.mtime + 86_400 <= one.files["/index.html"].mtime < anchor
    assert one.files["/index.html"].body == page.body
    # A file the package installs keeps the package's date (real installs share it).
    logo = "/icons/openlogo-75.png"
    assert one.files[logo].mtime == two.files[logo].mtime == template.files[logo].mtime
    # The template itself (shared, cached) is untouched.
    assert load("apache-2.4.71-debian").files["/index.html"].mtime == 1700000000
