import Foundation
import ImagesKit
import ImagesKitTestSupport
import Testing

@Suite("Label, description and tag rules")
struct ImageRulesTests {
    /// The error a rule raises, checked to be `invalid_argument` for `field`.
    static func refusal(field: String, _ body: () throws -> Void) -> ImagesKitError? {
        let error = #expect(throws: ImagesKitError.self) { try body() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.context["field"] == field)
        #expect(error?.message.hasPrefix(field) == true, "\(error?.message ?? "")")
        return error
    }

    @Test(arguments: [
        "a", "Debian 12", "web-01_prod", "v1.2.3", "what?", "it's", "a, b", " ,.?-_'",
        String(repeating: "x", count: 50), "ABCXYZabcxyz0189",
    ])
    func labelOfTheAllowedAlphabetIsAccepted(_ label: String) throws {
        try ImageRules.validateLabel(label)
    }

    @Test(arguments: [
        ("a/b", "'/'"), ("../etc", "'/'"), ("a\u{0}b", "U+0"), ("tab\there", "U+9"), ("café", "'é'"),
        ("naïve", "'ï'"), ("disk 🚀", "'🚀'"), ("a:b", "':'"), ("a\\b", "'\\'"), ("a\"b", "'\"'"),
        ("semi;colon", "';'"), ("a\u{7f}", "U+7F"), ("full\u{FF0F}width", "'／'"),
    ])
    func labelWithAForbiddenCharacterIsRefusedNamingIt(_ label: String, _ named: String) {
        let error = Self.refusal(field: "label") { try ImageRules.validateLabel(label) }
        #expect(error?.message.contains(named) == true, "\(error?.message ?? "")")
    }

    @Test(arguments: [0, 51, 200])
    func labelOfTheWrongLengthIsRefused(_ length: Int) {
        let error = Self.refusal(field: "label") {
            try ImageRules.validateLabel(String(repeating: "a", count: length))
        }
        #expect(error?.message.contains("1 to 50") == true)
        #expect(error?.message.contains("\(length)") == true)
    }

    @Test func descriptionUpTo65000CharactersIsAccepted() throws {
        try ImageRules.validateDescription(nil)
        try ImageRules.validateDescription("")
        try ImageRules.validateDescription(String(repeating: "é", count: 65_000))
        try ImageRules.validateDescription("multi\nline / with \u{0} anything")
    }

    @Test func descriptionOver65000CharactersIsRefused() {
        let error = Self.refusal(field: "description") {
            try ImageRules.validateDescription(String(repeating: "d", count: 65_001))
        }
        #expect(error?.message.contains("65000") == true)
    }

    @Test func tagsAreSortedAndDeduplicated() throws {
        #expect(try ImageRules.normalizedTags(["zeta", "alpha", "zeta", "mid", "alpha"]) == ["alpha", "mid", "zeta"])
        #expect(try ImageRules.normalizedTags([]) == [])
    }

    @Test func tagsOf3To100CharactersAreAccepted() throws {
        let tags = ["abc", String(repeating: "t", count: 100)]
        #expect(try ImageRules.normalizedTags(tags) == tags)
    }

    @Test(arguments: ["", "ab", String(repeating: "t", count: 101)])
    func tagOfTheWrongLengthIsRefused(_ tag: String) {
        let error = Self.refusal(field: "tags") { _ = try ImageRules.normalizedTags(["good", tag]) }
        #expect(error?.message.contains("3 to 100") == true)
    }

    @Test func atMost500TagsAreAccepted() throws {
        let tags = (0..<500).map { String(format: "tag-%03d", $0) }
        #expect(try ImageRules.normalizedTags(tags.reversed()) == tags)
        #expect(try ImageRules.normalizedTags(tags + tags).count == 500)

        let error = Self.refusal(field: "tags") { _ = try ImageRules.normalizedTags(tags + ["tag-500"]) }
        #expect(error?.message.contains("501") == true)
    }

    @Test(arguments: [
        ("disk.img.gz", "disk.img.gz"), ("my/disk:1", "my_disk_1"), ("café", "caf_"), ("", "image"),
        ("   ", "image"), ("  padded  ", "padded"), ("🚀", "_"), ("e\u{301}", "e_"),
        (String(repeating: "n", count: 80), String(repeating: "n", count: 50)),
        ("a" + String(repeating: " ", count: 49) + "b", "a"),
    ])
    func labelIsDerivedFromAName(_ name: String, _ label: String) {
        #expect(ImageRules.label(derivedFrom: name) == label)
    }

    @Test func derivedLabelUsesTheFallbackWhenNothingIsLeft() {
        #expect(ImageRules.label(derivedFrom: " ", fallback: "disk") == "disk")
    }

    @Test func derivedLabelIsAlwaysValid() throws {
        let alphabet: [Unicode.Scalar] = [
            "a", "Z", "0", " ", ".", "/", "\\", "\u{0}", "\n", "\r", "\t", "é", "\u{301}", "\u{200D}", "🚀",
            "\u{FEFF}", "_", "'", "?", ",", "-", ":", "\u{7f}", "中",
        ]
        var random = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let length = Int.random(in: 0...120, using: &random)
            var text = String.UnicodeScalarView()
            for _ in 0..<length { text.append(alphabet.randomElement(using: &random)!) }
            let label = ImageRules.label(derivedFrom: String(text))
            try ImageRules.validateLabel(label)
        }
    }
}
