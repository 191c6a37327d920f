"""The chat transport behind the Chat Now widget: conversations, messages, the relay to Rasa, delivery."""
