"""``python -m notifications.fake --port 8010 ...``: the fake Twilio as its own process."""

from notifications.fake.server import main

main()
