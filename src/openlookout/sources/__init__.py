"""Reading user data by reference: s3:// objects, file:// paths under allowed roots, folder imports."""
