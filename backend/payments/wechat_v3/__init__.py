"""WeChat Pay API v3: JSON over HTTPS, requests signed SHA256-RSA by the merchant's API key,
replies and callbacks signed by the platform, callback resources sealed with AES-256-GCM."""
