fn main() {
    let mut buf = itoa::Buffer::new();
    println!("{}", buf.format(2024_u32));
}
