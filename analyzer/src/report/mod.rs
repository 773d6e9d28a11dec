//! Renderers: findings in, text out. Renderers never analyse.
