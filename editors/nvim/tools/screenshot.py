"""Render `editors/nvim/screenshot.png`: Neovim in tmux with the plugin, reviewing a candidate of a
job seeded in a throwaway job store (the same candidate the end-to-end test applies).

    .venv/bin/python editors/nvim/tools/screenshot.py [out.png]

Needs tmux, Pillow and the DejaVu Sans Mono font (apt: tmux fonts-dejavu-core).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Cost, Evidence, Issue, JobReport, StageCost
from swe_lsp.server.store import JobStore

PLUGIN = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
COLS, ROWS = 110, 32
BUGGY = '''def add(a, b):
    """Add two numbers."""
    return a - b


def mul(a, b):
    # TODO: handle None arguments
    return a * b
'''
INIT = """
vim.opt.runtimepath:prepend(%(plugin)r)
vim.o.termguicolors = true
vim.o.laststatus = 2
vim.o.number = true
vim.o.statusline = '%%f %%m%%=%%{v:lua.require("swe_lsp").status()}  '
require('swe_lsp').setup({ cmd = { %(server)r, 'serve' } })
vim.api.nvim_create_autocmd('LspAttach', { once = true, callback = function()
  vim.schedule(function() vim.cmd('SweCandidates') end)
end })
"""


def seed(ws: Path) -> None:
    fixed = BUGGY.replace("a - b", "a + b")
    patch = Patch.from_texts({"calc.py": BUGGY}, {"calc.py": fixed})
    cand = Candidate(
        0, patch.diff, patch.files, {"calc.py": content_hash(BUGGY)}, 0.91,
        Evidence(True, True, 1, 0, "pytest -q test_calc.py", 0, prm_scores={"localize": 0.82, "patch": 0.77},
                 orm_score=1.42),
        "add: return the sum",
    )  # fmt: skip
    store = JobStore()
    store.add_job("3f9c2a", str(ws), Issue("add() subtracts its arguments", "calc.py", 3, 3), "running")
    store.finish_job(JobReport("3f9c2a", "done", (cand,), Cost({"patch": StageCost(812, 96, 4, 1.2, 9.5)})),
                     {"calc.py": BUGGY})  # fmt: skip
    store.close()


def palette(n: int) -> tuple[int, int, int]:
    base = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188),
            (17, 168, 205), (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139),
            (245, 245, 67), (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255)]  # fmt: skip
    if n < 16:
        return base[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    v = 8 + (n - 232) * 10
    return v, v, v


def render(ansi: str, out: Path) -> None:
    font = ImageFont.truetype(FONT, 15)
    cw, ch = int(font.getlength("M")), 20
    default_fg, default_bg = (220, 220, 220), (24, 24, 28)
    img = Image.new("RGB", (cw * COLS + 16, ch * ROWS + 16), default_bg)
    draw = ImageDraw.Draw(img)
    for row, line in enumerate(ansi.split("\n")[:ROWS]):
        fg, bg, reverse, col = default_fg, default_bg, False, 0
        for token in re.split(r"(\x1b\[[0-9;]*m)", line):
            if token.startswith("\x1b["):
                codes = [int(c) if c else 0 for c in token[2:-1].split(";")]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0:
                        fg, bg, reverse = default_fg, default_bg, False
                    elif c == 7:
                        reverse = True
                    elif c == 27:
                        reverse = False
                    elif 30 <= c <= 37 or 90 <= c <= 97:
                        fg = palette(c - 30 if c < 90 else c - 82)
                    elif 40 <= c <= 47 or 100 <= c <= 107:
                        bg = palette(c - 40 if c < 100 else c - 92)
                    elif c == 39:
                        fg = default_fg
                    elif c == 49:
                        bg = default_bg
                    elif c in (38, 48) and i + 1 < len(codes):
                        if codes[i + 1] == 5:
                            color, i = palette(codes[i + 2]), i + 2
                        else:
                            color, i = tuple(codes[i + 2 : i + 5]), i + 4
                        fg, bg = (color, bg) if c == 38 else (fg, color)
                    i += 1
                continue
            for chr_ in token:
                f, b = (bg, fg) if reverse else (fg, bg)
                x, y = 8 + col * cw, 8 + row * ch
                draw.rectangle([x, y, x + cw - 1, y + ch - 1], fill=b)
                draw.text((x, y + 1), chr_, font=font, fill=f)
                col += 1
    img.save(out)


def wait_for(tmux: list[str], text: str, seconds: float = 60) -> subprocess.CompletedProcess[str]:
    """Poll the pane until `text` shows (the server starts at its own pace)."""
    deadline = time.monotonic() + seconds
    while True:
        shot = subprocess.run([*tmux, "capture-pane", "-e", "-p"], check=True, capture_output=True, text=True)
        if text in re.sub(r"\x1b\[[0-9;]*m", "", shot.stdout):
            time.sleep(0.5)  # let the redraw finish
            return subprocess.run(
                [*tmux, "capture-pane", "-e", "-p"], check=True, capture_output=True, text=True
            )
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: {text!r} never showed:\n{shot.stdout}")
        time.sleep(0.2)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PLUGIN / "screenshot.png"
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        ws = tmpdir / "statsdemo"
        ws.mkdir()
        (ws / "calc.py").write_text(BUGGY)
        subprocess.run(["git", "init", "-q", str(ws)], check=True)
        os.environ.update(XDG_DATA_HOME=str(tmpdir / "data"), XDG_CONFIG_HOME=str(tmpdir / "config"))
        seed(ws.resolve())
        init = tmpdir / "init.lua"
        init.write_text(INIT % {"plugin": str(PLUGIN), "server": str(BIN / "swe-lsp")})
        nvim = shutil.which("nvim", path=str(BIN)) or "nvim"
        sock = str(tmpdir / "tmux.sock")
        tmux = ["tmux", "-S", sock]
        env_args = [a for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME") for a in ("-e", f"{k}={os.environ[k]}")]
        size = ["-x", str(COLS), "-y", str(ROWS)]
        command = f"TERM=tmux-256color {nvim} --clean -u {init} calc.py"
        subprocess.run([*tmux, "new-session", "-d", *size, *env_args, "-c", str(ws), command], check=True)
        try:
            wait_for(tmux, "Candidates of job")
            subprocess.run([*tmux, "send-keys", "1", "Enter"], check=True)
            shot = wait_for(tmux, "Evidence: verified")
            render(shot.stdout, out)
        finally:
            subprocess.run([*tmux, "kill-server"], check=False)
    print(out)


if __name__ == "__main__":
    main()
