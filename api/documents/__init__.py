"""Document upload in Connexion: bid cycles, document types, CBAs, uploads and the upload history."""
