"""Mail through Amazon SES v2. The only module that knows SES: logic sees the `MailSender` Protocol."""

from attract.aws import client


class SesMailSender:
    def __init__(self, from_address: str, sesv2=None):
        self.from_address = from_address
        self._sesv2 = sesv2

    def send(self, to: str, subject: str, text: str) -> None:
        (self._sesv2 or client("sesv2")).send_email(
            FromEmailAddress=self.from_address,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}}},
        )
