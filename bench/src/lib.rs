//! Load generator and benchmark harnesses for Firebox.
