"""Link-preview bots and mail security scanners follow links without a human behind them.

They still get the redirect (a broken preview helps nobody) but never count as a touch.
"""

import re

_BOT_USER_AGENT = re.compile(
    "|".join(
        [
            r"bot\b", r"bot/", r"crawler", r"spider", r"preview",
            r"slack(bot|-imgproxy)", r"facebookexternalhit", r"facebot", r"linkedinbot", r"twitterbot",
            r"whatsapp", r"telegrambot", r"discordbot", r"skypeuripreview", r"embedly", r"pinterest",
            r"googlebot", r"bingbot", r"bingpreview", r"applebot", r"yandex", r"duckduckbot",
            r"googleimageproxy", r"yahoomailproxy",
            # Outlook / Safe Links / Office link checks and mail security gateways
            r"microsoft office", r"ms-office", r"microsoft outlook", r"safelinks", r"office365",
            r"mimecast", r"barracuda", r"proofpoint", r"symantec", r"forcepoint", r"trendmicro", r"sophos",
            r"checkpoint", r"fireeye", r"zscaler", r"ironport", r"cisco.*security",
            r"python-requests", r"curl/", r"wget/", r"go-http-client", r"headlesschrome", r"phantomjs",
        ]
    ),
    re.IGNORECASE,
)


def is_automated(user_agent: str | None, method: str = "GET") -> bool:
    """True for requests that are not a person clicking: known bots, scanners, HEAD probes, no user agent."""
    if method.upper() == "HEAD":
        return True
    if not user_agent or not user_agent.strip():
        return True
    return bool(_BOT_USER_AGENT.search(user_agent))
