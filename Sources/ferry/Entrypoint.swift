import FerryCommands

@main
enum Entrypoint {
    static func main() async { await FerryCommand.main() }
}
