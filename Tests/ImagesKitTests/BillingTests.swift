import Foundation
import ImagesKit
import ImagesKitMemory
import Synchronization
import Testing

/// 73 GB at $0.10 per GB-month over 730 hours costs exactly $0.01 an hour and $7.30 a month.
private let centAnHour: UInt64 = 73_000_000_000
/// 6 GB: $0.60 a month.
private let sixGB: UInt64 = 6_000_000_000
/// 2.5 GB: 73 hours cost exactly $0.025.
private let twoAndAHalfGB: UInt64 = 2_500_000_000

private func at(_ text: String) -> Date {
    APITimestamp.parse(text)!
}

private func decimal(_ text: String) -> Decimal {
    Decimal(string: text)!
}

/// A ledger in memory and metered billing over it, with a way to record a copy's whole life.
private struct BillingBench {
    let ledger = MemoryUsageLedger()
    let billing: MeteredBilling

    init(rateCard: RateCard = .standard, downstream: (any Billing)? = nil) {
        billing = MeteredBilling(ledger: ledger, rateCard: rateCard, forwardingTo: downstream)
    }

    func record(
        _ kind: UsageRecord.Kind, _ image: Int, _ time: String, bytes: UInt64 = centAnHour,
        region: String = "us-east", type: ImageType = .manual, account: String = "default"
    ) async throws {
        let usage = UsageRecord(
            kind: kind, image: .private(image), region: region, byteCount: bytes, type: type, time: at(time),
            account: account)
        try await billing.record(usage)
    }

    /// Records a start and, when `end` is given, an end for the copy of `image` in `region`.
    func live(
        _ image: Int, from start: String, to end: String? = nil, bytes: UInt64 = centAnHour,
        region: String = "us-east", type: ImageType = .manual, account: String = "default"
    ) async throws {
        try await record(.started, image, start, bytes: bytes, region: region, type: type, account: account)
        guard let end else { return }
        try await record(.ended, image, end, bytes: bytes, region: region, type: type, account: account)
    }

    func invoice(_ from: String, _ to: String, account: String = "default") async throws -> Invoice {
        try await billing.invoice(account: account, from: at(from), to: at(to))
    }

    /// The invoice's only line; fails the test when there is not exactly one.
    func onlyLine(_ from: String, _ to: String) async throws -> InvoiceLine {
        let lines = try await invoice(from, to).lines
        try #require(lines.count == 1)
        return lines[0]
    }
}

@Suite("Billing: hours")
struct BillingHourTests {
    @Test(
        "a started hour is billed whole, counted from the copy's start",
        arguments: [
            ("2026-12-01T10:00:01", 1, "0.01"),
            ("2026-12-01T11:00:00", 1, "0.01"),
            ("2026-12-01T11:00:01", 2, "0.02"),
            ("2026-12-01T12:00:00", 2, "0.02"),
            ("2026-12-01T12:00:01", 3, "0.03"),
        ])
    func startedHourBilledWhole(end: String, hours: Int, amount: String) async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T10:00:00", to: end)

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(line.hours == hours)
        #expect(line.amount == decimal(amount))
    }

    @Test("a copy removed the second it started is not billed")
    func zeroLengthLifeNotBilled() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T10:00:00", to: "2026-12-01T10:00:00")

        #expect(try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00").lines.isEmpty)
    }

    @Test("a copy still running accrues until the period's end")
    func openLifeRunsToPeriodEnd() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00")

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2026-12-02T00:00:00")
        #expect(line.hours == 24)
        #expect(line.amount == decimal("0.24"))
    }

    @Test("a copy still running accrues only until the present in a period not yet over")
    func openLifeStopsAtThePresent() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00")

        // 10 hours and one second have passed: 11 started hours at a cent each.
        let invoice = try await bench.billing.invoice(
            account: "default", from: at("2026-12-01T00:00:00"), to: at("2027-01-01T00:00:00"),
            asOf: at("2026-12-01T10:00:01"))
        #expect(invoice.lines.map(\.hours) == [11])
        #expect(invoice.total == decimal("0.11"))

        let early = try await bench.billing.invoice(
            account: "default", from: at("2026-12-01T00:00:00"), to: at("2027-01-01T00:00:00"),
            asOf: at("2026-11-01T00:00:00"))
        #expect(early.lines.isEmpty)

        let late = try await bench.billing.invoice(
            account: "default", from: at("2026-12-01T00:00:00"), to: at("2026-12-02T00:00:00"),
            asOf: at("2027-03-01T00:00:00"))
        #expect(late.lines.map(\.hours) == [24])
    }

    @Test("an end dated before its start (a clock set back) ends the copy where it began")
    func endBeforeStartEndsTheCopy() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-10T00:00:00", to: "2026-12-01T00:00:00")

        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(invoice.lines.isEmpty)
    }

    @Test("an hour belongs to the period it begins in, not the one it ends in")
    func hourBelongsToPeriodItBeginsIn() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00")

        // Hours begin at 00:00, 01:00 and 02:00; only 01:00 begins inside [00:30, 02:00).
        let line = try await bench.onlyLine("2026-12-01T00:30:00", "2026-12-01T02:00:00")
        #expect(line.hours == 1)
        #expect(line.amount == decimal("0.01"))
    }

    @Test("an hour that crosses midnight at a month's end belongs to the month it begins in")
    func hourBelongsToMonthItBeginsIn() async throws {
        let bench = BillingBench()
        // 3601 seconds: hours begin at 2026-11-30T23:30:00 and 2026-12-01T00:30:00.
        try await bench.live(1, from: "2026-11-30T23:30:00", to: "2026-12-01T00:30:01")

        let november = try await bench.onlyLine("2026-11-01T00:00:00", "2026-12-01T00:00:00")
        let december = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(november.hours == 1 && november.amount == decimal("0.01"))
        #expect(december.hours == 1 && december.amount == decimal("0.01"))
    }

    @Test("hours beginning before 2021-09-01 are free")
    func hoursBeforeBillingStartFree() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2021-08-31T00:00:00", to: "2021-09-02T00:00:00")

        let line = try await bench.onlyLine("2021-08-01T00:00:00", "2021-10-01T00:00:00")
        #expect(line.hours == 24)
        #expect(line.amount == decimal("0.24"))
        #expect(try await bench.invoice("2021-08-01T00:00:00", "2021-09-01T00:00:00").lines.isEmpty)
    }
}

@Suite("Billing: monthly cap")
struct BillingMonthlyCapTests {
    @Test("730 hours cost exactly the monthly price; 729 cost one hour less; 731 no more")
    func sevenHundredThirtyHoursCostTheMonthlyPrice() async throws {
        let bench = BillingBench()
        // 730 h = 30 days and 10 hours; 729 h and 731 h either side.
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2026-12-31T10:00:00")
        try await bench.live(2, from: "2026-12-01T00:00:00", to: "2026-12-31T09:00:00")
        try await bench.live(3, from: "2026-12-01T00:00:00", to: "2026-12-31T11:00:00")
        try await bench.live(4, from: "2026-12-01T00:00:00", to: "2026-12-31T10:00:00", bytes: sixGB)

        let lines = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00").lines
        #expect(lines.map(\.hours) == [730, 729, 731, 730])
        #expect(lines.map(\.amount) == [decimal("7.30"), decimal("7.29"), decimal("7.30"), decimal("0.60")])
    }

    @Test("a whole 31-day month is capped at the monthly price")
    func wholeMonthCapped() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2027-01-01T00:00:00", bytes: sixGB)

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(line.hours == 744)
        #expect(line.gigabytes == 6)
        #expect(line.amount == decimal("0.60"))
    }

    @Test("a month split across two invoices adds up to the invoice over the whole month")
    func splitMonthAddsUp() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00")

        // 15 days = 360 h = $3.60; the other 384 h reach the $7.30 cap after 370 of them.
        let first = try await bench.onlyLine("2026-12-01T00:00:00", "2026-12-16T00:00:00")
        let second = try await bench.onlyLine("2026-12-16T00:00:00", "2027-01-01T00:00:00")
        let whole = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(first.hours == 360 && first.amount == decimal("3.60"))
        #expect(second.hours == 384 && second.amount == decimal("3.70"))
        #expect(whole.hours == 744 && whole.amount == decimal("7.30"))
        #expect(first.amount + second.amount == whole.amount)
    }

    @Test("each calendar month is capped on its own")
    func eachMonthCappedSeparately() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2027-02-01T00:00:00")

        // December and January: 744 h each, $7.44 each uncapped, $7.30 each capped.
        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-02-01T00:00:00")
        #expect(line.hours == 1488)
        #expect(line.amount == decimal("14.60"))
    }
}

@Suite("Billing: lines and totals")
struct BillingLineTests {
    @Test("each extra region's copy is billed like the first, on a line of its own")
    func replicaBilledLikeTheFirst() async throws {
        let bench = BillingBench()
        try await bench.live(5, from: "2026-12-01T00:00:00", to: "2026-12-01T10:00:00", region: "us-east")
        try await bench.live(5, from: "2026-12-01T00:00:00", to: "2026-12-01T10:00:00", region: "eu-west")

        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(invoice.lines.map(\.region) == ["eu-west", "us-east"])
        #expect(invoice.lines.map(\.amount) == [decimal("0.10"), decimal("0.10")])
        #expect(invoice.total == decimal("0.20"))
    }

    @Test("a recovery image gets a line at 0.00")
    func recoveryImageFree() async throws {
        let bench = BillingBench()
        try await bench.live(
            1, from: "2026-12-01T00:00:00", to: "2026-12-02T00:00:00", bytes: sixGB, type: .automatic)

        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(invoice.lines.map(\.hours) == [24])
        #expect(invoice.lines.map(\.amount) == [0])
        #expect(invoice.total == 0)
    }

    @Test("an amount ending in a half cent rounds up")
    func halfCentRoundsUp() async throws {
        let bench = BillingBench()
        // 73 h × 2.5 GB × $0.10 / 730 h = $0.025 exactly; banker's rounding would give 0.02.
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2026-12-04T01:00:00", bytes: twoAndAHalfGB)

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(line.hours == 73)
        #expect(line.amount == decimal("0.03"))
    }

    @Test("the total is the sum of the rounded lines")
    func totalSumsRoundedLines() async throws {
        let bench = BillingBench()
        for region in ["eu-west", "us-east"] {
            try await bench.live(
                1, from: "2026-12-01T00:00:00", to: "2026-12-04T01:00:00", bytes: twoAndAHalfGB, region: region)
        }

        // Each line is $0.025 → 0.03; the exact sum, $0.05, is not what is charged.
        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(invoice.lines.map(\.amount) == [decimal("0.03"), decimal("0.03")])
        #expect(invoice.total == decimal("0.06"))
    }

    @Test("lines are ordered by image number, then region")
    func linesOrderedByImageNumberThenRegion() async throws {
        let bench = BillingBench()
        for (image, region) in [(10, "us-east"), (2, "us-east"), (10, "ap-south"), (2, "eu-west")] {
            try await bench.live(image, from: "2026-12-01T00:00:00", to: "2026-12-01T01:00:00", region: region)
        }

        let lines = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00").lines
        #expect(lines.map(\.image) == [.private(2), .private(2), .private(10), .private(10)])
        #expect(lines.map(\.region) == ["eu-west", "us-east", "ap-south", "us-east"])
    }

    @Test("only the invoiced account's copies appear")
    func otherAccountsLeftOut() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2026-12-01T01:00:00", account: "acme")
        try await bench.live(2, from: "2026-12-01T00:00:00", to: "2026-12-01T02:00:00", account: "other")

        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00", account: "acme")
        #expect(invoice.account == "acme")
        #expect(invoice.lines.map(\.image) == [.private(1)])
    }

    @Test("a custom rate card's price, currency and free types are honoured")
    func customRateCardHonoured() async throws {
        let card = RateCard(pricePerGBMonth: decimal("0.05"), currency: "EUR", freeTypes: [])
        let bench = BillingBench(rateCard: card)
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2026-12-31T10:00:00")
        try await bench.live(2, from: "2026-12-01T00:00:00", to: "2026-12-04T01:00:00", type: .automatic)

        // 73 GB × €0.05 = €3.65 a month; 73 h of it = €0.365, rounded up.
        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(invoice.currency == "EUR")
        #expect(invoice.lines.map(\.amount) == [decimal("3.65"), decimal("0.37")])
        #expect(invoice.total == decimal("4.02"))
    }
}

@Suite("Billing: pairing usage records")
struct BillingPairingTests {
    @Test("a second start while running changes nothing")
    func secondStartIgnored() async throws {
        let bench = BillingBench()
        try await bench.record(.started, 1, "2026-12-01T00:00:00")
        try await bench.record(.started, 1, "2026-12-01T10:00:00")
        try await bench.record(.ended, 1, "2026-12-01T20:00:00")

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(line.hours == 20)
    }

    @Test("an end without a start is ignored")
    func endWithoutStartIgnored() async throws {
        let bench = BillingBench()
        try await bench.record(.ended, 1, "2026-12-01T00:00:00")
        try await bench.live(1, from: "2026-12-01T05:00:00", to: "2026-12-01T06:00:00")
        try await bench.record(.ended, 1, "2026-12-01T09:00:00")

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(line.hours == 1)
    }

    @Test("a copy removed and made again is billed for both lives")
    func restartedCopyBilledForBothLives() async throws {
        let bench = BillingBench()
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2026-12-01T02:00:00")
        try await bench.live(1, from: "2026-12-02T00:00:00", to: "2026-12-02T03:00:00")

        let line = try await bench.onlyLine("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        #expect(line.hours == 5)
        #expect(line.amount == decimal("0.05"))
    }

    @Test("records are paired in the ledger's order, the order they happened")
    func pairedInLedgerOrder() async throws {
        let bench = BillingBench()
        try await bench.record(.started, 1, "2026-12-01T00:00:00", region: "a")
        try await bench.record(.started, 1, "2026-12-01T01:00:00", region: "b")
        try await bench.record(.ended, 1, "2026-12-01T04:00:00", region: "a")
        try await bench.record(.ended, 1, "2026-12-01T02:00:00", region: "b")

        let lines = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00").lines
        #expect(lines.map(\.hours) == [4, 1])
    }
}

@Suite("Billing: invoices, records and forwarding")
struct BillingInvoiceTests {
    @Test(
        "a period that does not end after it starts is refused",
        arguments: [
            ("2026-12-01T00:00:00", "2026-12-01T00:00:00"),
            ("2027-01-01T00:00:00", "2026-12-01T00:00:00"),
        ])
    func emptyPeriodRefused(from: String, to: String) async throws {
        let bench = BillingBench()

        let error = await #expect(throws: ImagesKitError.self) { try await bench.invoice(from, to) }
        #expect(error?.code == .invalidArgument)
    }

    @Test("a rate card without hours per month is refused")
    func rateCardWithoutHoursRefused() async throws {
        let bench = BillingBench(rateCard: RateCard(hoursPerMonth: 0))

        let error = await #expect(throws: ImagesKitError.self) {
            try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test("an invoice encodes to the CLI's JSON shape")
    func invoiceJSONShape() throws {
        let invoice = Invoice(
            account: "acme", from: at("2026-12-01T00:00:00"), to: at("2027-01-01T00:00:00"), currency: "USD",
            lines: [
                InvoiceLine(image: .private(3), region: "us-east", hours: 12, gigabytes: decimal("0.433"), amount: 0),
                InvoiceLine(image: .private(4), region: "eu-west", hours: 744, gigabytes: 6, amount: decimal("0.6")),
                InvoiceLine(image: .private(5), region: "us-east", hours: 730, gigabytes: decimal("1.5"), amount: 12),
            ])

        let expected =
            #"{"account":"acme","currency":"USD","from":"2026-12-01T00:00:00","lines":["#
            + #"{"amount":"0.00","gb":"0.433","hours":12,"image":"private/3","region":"us-east"},"#
            + #"{"amount":"0.60","gb":"6","hours":744,"image":"private/4","region":"eu-west"},"#
            + #"{"amount":"12.00","gb":"1.5","hours":730,"image":"private/5","region":"us-east"}],"#
            + #""to":"2027-01-01T00:00:00","total":"12.60"}"#
        let json = String(decoding: try APIJSON.encoder().encode(invoice), as: UTF8.self)
        #expect(json == expected)
    }

    @Test("a computed invoice encodes gb from the record's size")
    func computedInvoiceJSON() async throws {
        let bench = BillingBench()
        try await bench.live(3, from: "2026-12-01T00:00:00", to: "2026-12-31T10:00:00", bytes: 1_499_000_001)

        // 1,499,000,001 bytes round up to 1500 MB = 1.5 GB; 730 h of it cost $0.15.
        let invoice = try await bench.invoice("2026-12-01T00:00:00", "2027-01-01T00:00:00")
        let json = String(decoding: try APIJSON.encoder().encode(invoice), as: UTF8.self)
        #expect(
            json
                == #"{"account":"default","currency":"USD","from":"2026-12-01T00:00:00","lines":["#
                + #"{"amount":"0.15","gb":"1.5","hours":730,"image":"private/3","region":"us-east"}],"#
                + #""to":"2027-01-01T00:00:00","total":"0.15"}"#)
    }

    @Test(
        "amounts are written with two places, rounding half up",
        arguments: [
            ("12", "12.00"), ("0.05", "0.05"), ("0.005", "0.01"), ("0", "0.00"), ("1234.5", "1234.50"),
            ("0.994", "0.99"), ("0.995", "1.00"), ("-3.1", "-3.10"), ("-0.001", "0.00"),
        ])
    func amountFormat(amount: String, text: String) {
        #expect(Invoice.format(decimal(amount)) == text)
    }

    @Test("the billed size is megabytes rounded up, over 1000")
    func gigabytesFromByteCount() {
        let record = { (bytes: UInt64) in
            UsageRecord(kind: .started, image: .private(1), region: "r", byteCount: bytes, type: .manual, time: Date())
        }

        #expect(record(433_000_001).gigabytes == decimal("0.434"))
        #expect(record(6_000_000_000).gigabytes == 6)
        #expect(record(1).gigabytes == decimal("0.001"))
    }

    @Test("a usage record round-trips through snake_case JSON at whole seconds")
    func usageRecordJSON() throws {
        let record = UsageRecord(
            kind: .ended, image: .private(9), region: "eu-west", byteCount: 1_500_000_000, type: .automatic,
            time: at("2026-12-04T15:09:43").addingTimeInterval(0.75), account: "acme")

        let json = String(decoding: try APIJSON.encoder().encode(record), as: UTF8.self)
        #expect(
            json
                == #"{"account":"acme","byte_count":1500000000,"image":"private/9","kind":"ended","#
                + #""region":"eu-west","time":"2026-12-04T15:09:43","type":"automatic"}"#)
        let decoded = try APIJSON.decoder().decode(UsageRecord.self, from: Data(json.utf8))
        #expect(decoded.time == at("2026-12-04T15:09:43"))
        #expect(decoded.account == "acme" && decoded.kind == .ended && decoded.byteCount == 1_500_000_000)
    }

    @Test("a record without an account gets the default one")
    func recordDefaultsToDefaultAccount() {
        let record = UsageRecord(
            kind: .started, image: .private(1), region: "r", byteCount: 1, type: .manual, time: Date())

        #expect(record.account == "default")
    }

    @Test("the downstream billing receives every record, after the ledger keeps it")
    func forwardsEveryRecord() async throws {
        let downstream = DownstreamBilling()
        let bench = BillingBench(downstream: downstream)
        try await bench.live(1, from: "2026-12-01T00:00:00", to: "2026-12-01T01:00:00")
        try await bench.live(2, from: "2026-12-01T00:00:00", region: "eu-west", account: "acme")

        let kept = try await bench.ledger.usage()
        #expect(kept.count == 3)
        #expect(downstream.received == kept)
    }

    @Test("a record the ledger refuses is not forwarded")
    func refusedRecordNotForwarded() async throws {
        let downstream = DownstreamBilling()
        let billing = MeteredBilling(ledger: RefusingLedger(), forwardingTo: downstream)
        let usage = UsageRecord(
            kind: .started, image: .private(1), region: "r", byteCount: 1, type: .manual, time: Date())

        await #expect(throws: ImagesKitError.self) { try await billing.record(usage) }
        #expect(downstream.received.isEmpty)
    }

    @Test("the memory ledger keeps records in the order appended")
    func memoryLedgerKeepsOrder() async throws {
        let ledger = MemoryUsageLedger()
        let records = (1...5).map { number in
            UsageRecord(
                kind: .started, image: .private(6 - number), region: "r", byteCount: 1, type: .manual,
                time: at("2026-12-01T00:00:00"))
        }
        for record in records { try await ledger.append(record) }

        #expect(try await ledger.usage() == records)
    }
}

/// The application's own billing, as a test sees it: every record it was given.
private final class DownstreamBilling: Billing {
    private let records = Mutex<[UsageRecord]>([])

    func record(_ usage: UsageRecord) async throws {
        records.withLock { $0.append(usage) }
    }

    var received: [UsageRecord] {
        records.withLock { $0 }
    }
}

/// A ledger whose storage always fails.
private struct RefusingLedger: UsageLedger {
    func append(_ usage: UsageRecord) async throws {
        throw ImagesKitError(.storeFailure, "the test ledger keeps nothing")
    }

    func usage() async throws -> [UsageRecord] { [] }
}
