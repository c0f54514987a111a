"""Debian's chromium, headless, through chromium-driver (python3-selenium): the one place
the browser test (browser_test.py) and the benchmark (bench/web_view.py) start it.

As root, with no network and no display: no sandbox, no GPU, no /dev/shm, nothing that
phones home, and a fresh profile in `folder`.
"""
import os
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium(folder, width=1280, height=1400, driver_log=None):
    """A new headless Chromium whose profile lives in `folder`; its console is readable with get_log("browser")."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in FLAGS + (f"--window-size={width},{height}", "--user-data-dir=" + os.path.join(folder, "chromium")):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver", log_path=driver_log)
    return webdriver.Chrome(options=options, service=service)
