"""The checkout page as HTML: small string templates, every value escaped (html.escape).

Without JavaScript the page is complete: the exact amount, the address, a QR code rendered
here, a status that refreshes itself (``<noscript>`` meta refresh). The script
(static/checkout.js) adds the wallet connection, copy buttons, the countdown and live status.
No inline script or style: the Content-Security-Policy allows neither.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import urlencode

import segno

from kassa.web.checkout.view import CheckoutView, Option, Progress

STATIC = "/checkout/static"
NOSCRIPT_REFRESH_SECONDS = 10


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def qr_svg(link: str) -> str:
    """The EIP-681 link as an inline SVG QR code (no script, no style attribute)."""
    code = segno.make(link, error="m")
    svg: str = code.svg_inline(
        scale=4, dark="#000", title="QR code of the payment link", svgclass="qr-code", omitsize=True
    )
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code of the payment link" ', 1)


def remaining(expires_at: datetime, now: datetime) -> str:
    """ "2 days 3 hours", "14 minutes", "expired": rough on purpose (the script counts)."""
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return f"{unit(days, 'day')} {unit(hours, 'hour')}"
    if hours:
        return f"{unit(hours, 'hour')} {unit(minutes, 'minute')}"
    if minutes:
        return f"{unit(minutes, 'minute')} {unit(secs, 'second')}"
    return unit(secs, "second")


def _options_nav(view: CheckoutView, chosen: Option) -> str:
    if len(view.options) < 2:
        return ""
    items = []
    for option in view.options:
        href = "?" + urlencode({"pay": option.key})
        current = ' aria-current="true"' if option is chosen else ""
        label = f"{option.token} on {option.chain}"
        items.append(f'<li><a href="{_e(href)}"{current}>{_e(label)}</a></li>')
    return (
        '<nav class="options" aria-labelledby="options-title">'
        '<h2 id="options-title">Pay with</h2>'
        f"<ul>{''.join(items)}</ul></nav>"
    )


def _copy_button(target: str, label: str) -> str:
    return f'<button type="button" class="copy" data-copy="{target}" hidden>{_e(label)}</button>'


def _payment_details(view: CheckoutView, option: Option) -> str:
    return f"""
<section class="pay" aria-labelledby="send-title">
  <h2 id="send-title">Send exactly</h2>
  <dl class="details">
    <div><dt id="amount-label">Amount</dt>
      <dd><span class="amount"><code id="amount" aria-labelledby="amount-label">{_e(option.amount_text)}</code> {_e(option.token)}</span>
      {_copy_button("amount", "Copy amount")}</dd></div>
    <div><dt id="address-label">To address</dt>
      <dd><code id="address" class="address" aria-labelledby="address-label">{_e(option.to_address)}</code>
      {_copy_button("address", "Copy address")}</dd></div>
    <div><dt>Network</dt><dd>{_e(option.chain)} (chain id {option.chain_id})</dd></div>
    <div><dt>Token contract</dt><dd><code class="address">{_e(option.token_address)}</code></dd></div>
  </dl>
  <p class="hint">Send this exact amount: it tells kassa which order you paid.</p>
  <figure class="qr">
    {qr_svg(option.payment_link)}
    <figcaption>Scan with your wallet app, or
      <a href="{_e(option.payment_link)}">open the payment link</a>.</figcaption>
  </figure>
</section>
<section class="wallet" id="wallet" aria-labelledby="wallet-title" hidden>
  <h2 id="wallet-title">Pay from a browser wallet</h2>
  <p class="buttons">
    <button type="button" id="connect">Connect wallet</button>
    <button type="button" id="pay" hidden>Pay {_e(option.amount_text)} {_e(option.token)}</button>
  </p>
  <p id="wallet-message" class="message" aria-live="polite"></p>
</section>"""


def _status(view: CheckoutView, progress: Progress, now: datetime) -> str:
    finished = progress.finished
    expiry = ""
    if not finished:
        expiry = (
            f'<p class="expiry">Expires in <span id="countdown">'
            f"{_e(remaining(view.expires_at, now))}</span> "
            f'(<time datetime="{_e(view.expires_at.isoformat())}">'
            f"{_e(view.expires_at.strftime('%Y-%m-%d %H:%M'))} UTC</time>).</p>"
        )
    follow = ""
    if progress.redirect:
        follow = f'<p><a class="button" href="{_e(progress.redirect)}">Continue to {_e(view.merchant or "the merchant")}</a></p>'
    elif not finished:
        follow = '<noscript><p><a href="">Refresh the status</a></p></noscript>'
    return f"""
<section class="status" aria-labelledby="status-title">
  <h2 id="status-title">Status</h2>
  <p id="status" class="state state-{_e(progress.status)}" role="status"
     data-status="{_e(progress.status)}"><span class="state-word">{_e(progress.status.capitalize())}:</span>
     <span id="status-text">{_e(progress.text())}</span></p>
  {expiry}
  {follow}
</section>"""


def render_page(view: CheckoutView, chosen_key: str | None, now: datetime) -> str:
    option = view.option(chosen_key)
    progress = view.progress
    title = f"Pay {view.merchant} {view.amount}" if view.merchant else f"Pay {view.amount}"
    refresh = (
        ""
        if progress.finished
        else f'<noscript><meta http-equiv="refresh" content="{NOSCRIPT_REFRESH_SECONDS}"></noscript>'
    )
    data = {
        "session": view.session_id,
        "status": progress.status,
        "expires": view.expires_at.isoformat(),
        "events": f"/checkout/{view.session_id}/events",
        "report": f"/checkout/{view.session_id}/transaction",
    }
    if option is not None:
        data |= {
            "chain-id": str(option.chain_id),
            "token": option.token_address,
            "to": option.to_address,
            "units": option.units,
            "symbol": option.token,
        }
    attributes = " ".join(f'data-{k}="{_e(v)}"' for k, v in data.items())
    if option is None:
        body = '<p class="hint">This session cannot be paid on any configured chain.</p>'
    else:
        body = _options_nav(view, option) + _payment_details(view, option)
    description = f'<p class="description">{_e(view.description)}</p>' if view.description else ""
    cancel = (
        f'<footer><a href="{_e(view.cancel_url)}">Cancel and return to {_e(view.merchant or "the merchant")}</a></footer>'
        if view.cancel_url and not progress.finished
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{_e(title)}</title>
<link rel="stylesheet" href="{STATIC}/checkout.css">
<link rel="icon" href="{STATIC}/favicon.svg" type="image/svg+xml">
{refresh}
<script src="{STATIC}/ethers.umd.min.js" defer></script>
<script src="{STATIC}/checkout.js" defer></script>
</head>
<body>
<main id="checkout" {attributes}>
  <header>
    <p class="merchant">{_e(view.merchant)}</p>
    <h1>Pay <span class="price">{_e(view.amount.to_decimal_string())} {_e(view.amount.currency)}</span></h1>
    {description}
  </header>
  {body}
  {_status(view, progress, now)}
  {cancel}
</main>
</body>
</html>
"""


def render_missing() -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Payment session not found</title>
<link rel="stylesheet" href="{STATIC}/checkout.css">
<link rel="icon" href="{STATIC}/favicon.svg" type="image/svg+xml">
</head>
<body>
<main>
  <h1>Payment session not found</h1>
  <p>Check the link the merchant gave you, or ask them for a new one.</p>
</main>
</body>
</html>
"""


def render_limited(retry_after: int) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Too many requests</title>
<link rel="stylesheet" href="{STATIC}/checkout.css">
<link rel="icon" href="{STATIC}/favicon.svg" type="image/svg+xml">
</head>
<body>
<main>
  <h1>Too many requests</h1>
  <p>Please wait {retry_after} seconds, then reload this page.</p>
</main>
</body>
</html>
"""
