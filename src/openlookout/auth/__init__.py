"""Who may call: access keys from the credentials file, the SigV4 algorithm, console sessions.

``credentials`` reads and appends the CSV file of access keys (and reloads it when it changes),
``sigv4`` computes canonical requests and signatures exactly as the AWS SDKs do, ``sessions``
signs and checks the console's session cookies. Nothing here knows HTTP frameworks or the
service; ``api`` and ``console`` use these to decide whose request it is.
"""
