fn main() {
    println!("goofish-tui");
}
