"""A local SMTP server that keeps what it receives: just enough SMTP for smtplib."""

import socketserver
import threading
from email import message_from_bytes, policy


class _Session(socketserver.StreamRequestHandler):
    def handle(self):
        self._say("220 sink ready")
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 sink")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                data = b"".join(iter(lambda: self.rfile.readline(), b".\r\n"))
                message = message_from_bytes(data.replace(b"\r\n..", b"\r\n."), policy=policy.default)
                self.server.messages.append(message)
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self._say("250 ok")

    def _say(self, text):
        self.wfile.write(text.encode() + b"\r\n")


class SmtpSink(socketserver.ThreadingTCPServer):
    """``with SmtpSink() as sink:`` listens on 127.0.0.1:``sink.port``; ``sink.messages`` fills up."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Session)
        self.messages = []
        self.port = self.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()
