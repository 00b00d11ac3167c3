"""tools.mailsink with a script keyed on the recipient's local part, for the SMTP
client's tests (run as `python -m tests.integration.scripted_smtp --port P --dir D`):

- `refused@...`: RCPT answered 550 (for good); `busy@...`: RCPT answered 451 (later);
- `hangup@...`: the message is kept and acknowledged, then the server closes the
  connection (as after an idle timeout or a restart);
- `mute@...`: the whole message arrives, then the server closes the connection
  without answering (the client cannot know whether it was kept: it was not);
- `slow@...`: the answer to the data comes after 5 s (the message is kept);
- anyone else: kept, as by the mail sink.
"""

import asyncio
import sys

from tools import mailsink


class Scripted(mailsink.KeepToFiles):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        local = address.split("@")[0]
        if local == "refused":
            return "550 5.1.1 no such mailbox"
        if local == "busy":
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        local = envelope.rcpt_tos[0].split("@")[0]
        if local == "mute":
            server.transport.close()
            await asyncio.sleep(3600)        # cancelled when the connection is gone
        if local == "slow":
            await asyncio.sleep(5)
        reply = await super().handle_DATA(server, session, envelope)
        if local == "hangup":
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply
        return reply


if __name__ == "__main__":
    sys.exit(mailsink.main(handler_class=Scripted))
