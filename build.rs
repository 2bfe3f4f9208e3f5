fn main() {
    // Embedded migrations must be rebuilt when a migration file changes.
    println!("cargo:rerun-if-changed=migrations");
}
