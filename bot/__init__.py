"""What faces the chat user: the Rasa channel configuration and (later) the widget and relay."""
