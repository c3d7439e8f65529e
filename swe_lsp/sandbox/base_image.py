"""Building the offline base image: a Debian root made by debootstrap, loaded with `docker import`.

Where no registry is reachable, `python:3.11-slim` cannot be pulled, but Debian's package mirror
can be. The root is the minimal variant plus what verification needs: Python with venv and pip
(for a workspace's own dependencies), pytest (so a pure-Python workspace verifies fully offline)
and git. It is built in a temporary folder outside any workspace and deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from swe_lsp.sandbox.errors import SandboxImageError, SandboxUnavailableError

if TYPE_CHECKING:
    import docker

DEFAULT_BASE_IMAGE = "swe-lsp-base:bookworm"
BASE_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-pip",
    "python3-pytest",
    "python-is-python3",
    "git",
    "ca-certificates",
)
# Removed from the root before import: the image is smaller, and nothing in a sandbox reads them.
_PRUNED = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
_IMAGE_CONFIG = [
    "ENV LANG=C.UTF-8",
    "ENV PATH=/opt/swe-env/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    'CMD ["/bin/bash"]',
]


APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))


def host_debian_mirror(sources: Sequence[Path] = APT_SOURCES) -> str | None:
    """The Debian mirror this machine's apt already uses (deb822 `URIs:` or one-line `deb` lines),
    skipping the security archive: the mirror known to be reachable from here, chosen by the admin."""
    for source in sources:
        files = (
            [*sorted(source.glob("*.sources")), *sorted(source.glob("*.list"))]
            if source.is_dir()
            else [source]
        )
        for file in files:
            try:
                lines = file.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                words = line.split()
                uris = words[1:] if words[:1] == ["URIs:"] else words[1:] if words[:1] == ["deb"] else []
                for uri in uris:
                    if "://" in uri and not uri.rstrip("/").endswith("-security"):
                        return uri
    return None


@dataclass(frozen=True)
class BaseImageRecipe:
    """What goes into the base image: the Debian release, the mirror (None: the host's apt mirror)
    and the extra packages."""

    suite: str = "bookworm"
    mirror: str | None = None
    packages: tuple[str, ...] = BASE_PACKAGES
    variant: str = "minbase"


def base_image_present(client: docker.DockerClient, tag: str) -> bool:
    """Whether the engine has an image named `tag`."""
    import docker

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_base_image(
    client: docker.DockerClient,
    tag: str = DEFAULT_BASE_IMAGE,
    recipe: BaseImageRecipe | None = None,
    on_line: Callable[[str], None] = lambda line: None,
) -> str:
    """Bootstrap a root file system, import it as `tag` and return the image id.

    `on_line` receives debootstrap's progress lines (the CLI shows them). Needs root and the
    debootstrap package; the mirror must be reachable.
    """
    recipe = recipe or BaseImageRecipe()
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailableError("debootstrap is not installed: apt-get install debootstrap")
    if os.geteuid() != 0:
        raise SandboxUnavailableError("building the base image needs root (debootstrap); run it with sudo")
    work = Path(tempfile.mkdtemp(prefix="swe-lsp-rootfs-"))
    try:
        root = work / "root"
        _debootstrap(recipe, root, on_line)
        for rel in _PRUNED:
            shutil.rmtree(root / rel, ignore_errors=True)
        on_line("packing the root file system")
        archive = work / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], check=True)
        on_line(f"importing it as {tag}")
        repository, _, version = tag.rpartition(":") if ":" in tag else (tag, "", "latest")
        client.api.import_image(src=str(archive), repository=repository, tag=version, changes=_IMAGE_CONFIG)
        return client.images.get(tag).id
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _debootstrap(recipe: BaseImageRecipe, root: Path, on_line: Callable[[str], None]) -> None:
    mirror = recipe.mirror or host_debian_mirror()
    if mirror is None:
        raise SandboxImageError(
            "no Debian mirror: this machine's apt sources name none; pass --mirror URL "
            "(a Debian mirror debootstrap can reach)"
        )
    argv = [
        "debootstrap",
        f"--variant={recipe.variant}",
        f"--include={','.join(recipe.packages)}",
        recipe.suite,
        str(root),
        mirror,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        on_line(line.rstrip())
        tail = [*tail[-19:], line.rstrip()]
    if proc.wait() != 0:
        log = "\n".join(tail)
        raise SandboxImageError(f"debootstrap failed (is {mirror} reachable?):\n{log}")
