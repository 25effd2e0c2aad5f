pub mod design;
pub mod sensitivity;
