//! Firebox: AWS Lambda on one machine (Invoke, Runtime and function URL APIs, real processes).
