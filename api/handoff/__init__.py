"""Human handoff: the queue of chats waiting for a person, callback requests, ratings, the agent console."""
