"""What every browser test checks after each step: nothing went wrong in the page."""
from playwright.sync_api import Page


class Watch:
    """Collects everything that went wrong in a page; `clean(step)` asserts nothing did."""

    def __init__(self, page: Page):
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _failed(self, request):
        # a poll (htmx or run.js) still in flight when a link is followed is cancelled by the browser
        if request.failure == "net::ERR_ABORTED" and request.resource_type in ("xhr", "fetch"):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def clean(self, step: str) -> None:
        problems, self.problems[:] = list(self.problems), []
        assert not problems, f"{step}:\n" + "\n".join(problems)
