"""The page in a real browser (headless Chromium through Selenium): an uploaded file gets players whose audio has a
finite duration equal to the input's, figures that loaded, DNSMOS scores and a download link; live mode with a fake
microphone (a WAV file) gets enhanced audio back and shows a latency no shorter than the model's look-ahead.

``CSPEC_SCREENSHOT=docs/serve.png`` also saves a screenshot of the page after the result is shown."""

from __future__ import annotations

import os
import re

import numpy as np
import soundfile as sf
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import noisy_tone


def _wait(driver, script: str, timeout: float = 30.0):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script))


def test_upload_shows_players_figures_scores_and_download(server, browser, tmp_path):
    src = tmp_path / "noisy talk.wav"
    sf.write(src, noisy_tone(3.0, 44100, seed=6), 44100, subtype="PCM_16")
    browser.get(server.url + "/")
    _wait(browser, "return document.querySelectorAll('#model option').length > 0")
    browser.execute_script("document.getElementById('model').value = 'tiny'")
    browser.find_element(By.ID, "file").send_keys(str(src))
    durations = _wait(browser, """
        const a = [...document.querySelectorAll('.result audio')];
        const imgs = [...document.querySelectorAll('.result img')];
        if (a.length < 2 || imgs.length < 2 || !imgs.every(i => i.complete && i.naturalWidth > 0)) return null;
        if (!a.every(x => x.readyState >= 1 && Number.isFinite(x.duration))) return null;
        return a.map(x => [x.dataset.role, x.duration]);""")
    assert [r for r, _ in durations] == ["input", "enhanced"]
    assert all(abs(d - 3.0) < 1e-3 for _, d in durations), durations  # 132300 samples at 44.1 kHz
    assert browser.find_element(By.CSS_SELECTOR, ".result .error").get_attribute("hidden") is not None
    rows = browser.find_elements(By.CSS_SELECTOR, ".result .scores tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == ["input", "enhanced"]
    assert all(1.0 <= float(td.text) <= 5.0 for r in rows for td in r.find_elements(By.TAG_NAME, "td")[1:])
    link = browser.find_element(By.CSS_SELECTOR, ".result .download")
    assert link.text == "Download noisy talk_enhanced.wav" and link.get_attribute("href").endswith("?download=1")
    if os.environ.get("CSPEC_SCREENSHOT"):
        browser.save_screenshot(os.environ["CSPEC_SCREENSHOT"])


def test_separate_with_the_bundled_separator_shows_one_player_per_talker(server, browser, tmp_path):
    """The separate task through the page, with the bundled sep2 (the default separator): two talker tracks as
    long as the input, their figures and scores, and a download."""
    src = tmp_path / "two talkers.wav"
    a, b = noisy_tone(2.0, 16000, seed=1)[:, 0], noisy_tone(2.0, 16000, seed=2)[:, 0]
    b = np.roll(b, 4000) * np.sin(np.linspace(0, 7, b.size)) ** 2  # another rhythm and onset
    sf.write(src, 0.5 * (a + b), 16000, subtype="PCM_16")
    browser.get(server.url + "/")
    _wait(browser, "return document.querySelectorAll('#model option').length > 0")
    browser.execute_script("const t = document.getElementById('task'); t.value = 'separate';"
                           "t.dispatchEvent(new Event('change'));")
    assert browser.execute_script("return document.getElementById('model').value") == "sep2"
    browser.find_element(By.ID, "file").send_keys(str(src))
    durations = _wait(browser, """
        const a = [...document.querySelectorAll('.result audio')];
        const imgs = [...document.querySelectorAll('.result img')];
        if (a.length < 3 || imgs.length < 2 || !imgs.every(i => i.complete && i.naturalWidth > 0)) return null;
        if (!a.every(x => x.readyState >= 1 && Number.isFinite(x.duration))) return null;
        return a.map(x => [x.dataset.role, x.duration]);""", 60)
    assert [r for r, _ in durations] == ["input", "s1", "s2"]
    assert all(abs(d - 2.0) < 1e-3 for _, d in durations), durations
    rows = browser.find_elements(By.CSS_SELECTOR, ".result .scores tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == ["input", "s1", "s2"]
    assert browser.find_element(By.CSS_SELECTOR, ".result .download").get_attribute("href").endswith("?download=1")


def test_bad_file_error_is_shown_on_the_page(server, browser, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    browser.get(server.url + "/")
    _wait(browser, "return document.querySelectorAll('#model option').length > 0")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    text = _wait(browser, "const e = document.querySelector('.result .error'); return e && !e.hidden && e.textContent")
    assert text.startswith("broken.wav: not a readable audio file (")


def test_recording_from_the_microphone_is_processed(server, browser):
    browser.get(server.url + "/")
    _wait(browser, "return document.querySelectorAll('#model option').length > 0")
    browser.execute_script("document.getElementById('model').value = 'tiny'")
    browser.find_element(By.ID, "record").click()
    _wait(browser, "return /recording [1-9]/.test(document.getElementById('record-status').textContent)", 20)
    browser.find_element(By.ID, "record").click()
    got = _wait(browser, """
        const a = [...document.querySelectorAll('.result audio')];
        const name = document.querySelector('.result .name').textContent;
        if (a.length < 2 || !a.every(x => x.readyState >= 1 && Number.isFinite(x.duration))) return null;
        return [name, a.map(x => x.duration), document.getElementById('record-status').textContent];""")
    name, (d_in, d_out), status = got
    recorded = float(re.fullmatch(r"recorded (\d+\.\d) s", status).group(1))
    assert name.startswith("recording.wav") and d_in == d_out and abs(d_in - recorded) < 0.06


def test_live_mode_with_a_fake_microphone(server, browser):
    browser.get(server.url + "/")
    _wait(browser, "return document.querySelectorAll('#live-model option').length > 0")
    browser.find_element(By.ID, "live-start").click()
    got = _wait(browser, """
        const r = Number(document.getElementById('live-received').dataset.samples || 0);
        const ms = document.getElementById('live-latency').dataset.ms;
        const rms = Number(document.getElementById('live-received').dataset.rms);
        return r >= 16000 && ms ? [r, Number(ms), document.getElementById('live-algo').textContent, rms] : null;""", 20)
    browser.find_element(By.ID, "live-stop").click()
    samples, latency_ms, algo, rms = got
    assert rms > 0.01  # enhanced audio, not silence: the fake microphone plays a 0.2-amplitude harmonic signal
    assert algo == "31.9 ms"  # GTCRN's look-ahead, 510 samples at 16 kHz
    assert 20.0 + 31.88 <= latency_ms < 1000.0  # one 20 ms block + look-ahead + a positive round trip
    assert re.fullmatch(r"\d+\.\d ms", browser.find_element(By.ID, "live-latency").text)
    assert browser.find_element(By.ID, "live-error").get_attribute("hidden") is not None
