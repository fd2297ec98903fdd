"""``python -m notifications.fake.vonage --port 8011 ...``: the fake Vonage on its own."""

from notifications.fake.vonage.server import main

main()
