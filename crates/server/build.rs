// The web client is compiled in: rebuild when any of its files changes.
fn main() {
    println!("cargo:rerun-if-changed=../../web");
}
