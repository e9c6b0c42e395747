"""What every browser test checks after each step: nothing went wrong, and the page fits a phone."""
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
        if request.failure == "net::ERR_ABORTED" and (request.resource_type in ("xhr", "fetch")
                                                      or request.url.endswith("/favicon.svg")):
            return  # (so is the favicon of a page left at once)
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def clean(self, step: str) -> None:
        problems, self.problems[:] = list(self.problems), []
        assert not problems, f"{step}:\n" + "\n".join(problems)


def sideways(page: Page) -> str | None:
    """What sticks out past the right edge of a phone's screen, or None if the page fits.

    A mobile browser widens its layout viewport to fit wide content, so window.innerWidth is no
    yardstick; clientWidth of the root is the width the page was laid out for (the device's).
    """
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return null;
        // inside a .table-wrap a wide table scrolls in its box, which is fine
        const out = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > width + 1
            && !e.parentElement.closest(".table-wrap"));
        const outermost = out.filter((e) => !out.includes(e.parentElement));
        const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + [...e.classList].map((c) => "." + c).join("");
        return `${document.documentElement.scrollWidth}px wide on a ${width}px screen: ` + outermost.slice(0, 5)
            .map((e) => `${name(e)} in ${name(e.closest("[id]") || e.parentElement)} (right edge ${Math.round(e.getBoundingClientRect().right)}px)`)
            .join(", ");
    }""")
