import Foundation

/// A fact billing needs: an image's copy in a region began or ended.
public struct UsageRecord: Hashable, Sendable {
    /// Whether the copy began or ended.
    public enum Kind: String, Sendable, Codable {
        /// The copy became available and starts accruing.
        case started
        /// The copy was removed and stops accruing.
        case ended
    }

    /// Began or ended.
    public var kind: Kind
    /// The image.
    public var image: ImageID
    /// The region of the copy.
    public var region: String
    /// Uncompressed bytes billed.
    public var byteCount: UInt64
    /// Manual images are billed; recovery images are free.
    public var type: ImageType
    /// When it happened; the ledger keeps whole seconds.
    public var time: Date
    /// The account the copy is charged to.
    public var account: String

    /// Creates a usage record.
    ///
    /// - Parameters:
    ///   - kind: Began or ended.
    ///   - image: The image.
    ///   - region: The region of the copy.
    ///   - byteCount: Uncompressed bytes billed.
    ///   - type: The image's type, which decides whether it is free.
    ///   - time: When it happened.
    ///   - account: The account charged; `default` when the application has only one.
    public init(
        kind: Kind, image: ImageID, region: String, byteCount: UInt64, type: ImageType, time: Date,
        account: String = "default"
    ) {
        self.kind = kind
        self.image = image
        self.region = region
        self.byteCount = byteCount
        self.type = type
        self.time = time
        self.account = account
    }

    /// The billed size: megabytes rounded up, over 1000 (1 GB = 1000 MB = 10⁹ bytes).
    public var gigabytes: Decimal {
        Decimal(Image.megabytes(byteCount)) / 1000
    }
}

extension UsageRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case kind, image, region, type, time, account
        case byteCount = "byte_count"
    }

    /// Decodes a record from its ledger JSON, with snake_case keys and an API timestamp.
    ///
    /// - Throws: `DecodingError` when a field is missing or the time is not like `2026-12-04T15:09:43`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(Kind.self, forKey: .kind)
        image = try container.decode(ImageID.self, forKey: .image)
        region = try container.decode(String.self, forKey: .region)
        byteCount = try container.decode(UInt64.self, forKey: .byteCount)
        type = try container.decode(ImageType.self, forKey: .type)
        account = try container.decode(String.self, forKey: .account)

        let text = try container.decode(String.self, forKey: .time)
        guard let time = APITimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .time, in: container, debugDescription: "not a timestamp like 2026-12-04T15:09:43: \(text)")
        }
        self.time = time
    }

    /// Encodes the record as its ledger JSON; the time loses any fraction of a second.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(image, forKey: .image)
        try container.encode(region, forKey: .region)
        try container.encode(byteCount, forKey: .byteCount)
        try container.encode(type, forKey: .type)
        try container.encode(APITimestamp.format(time), forKey: .time)
        try container.encode(account, forKey: .account)
    }
}

/// Receives what is needed to charge for stored images.
public protocol Billing: Sendable {
    /// Records that a copy began or ended.
    ///
    /// - Parameter usage: The fact.
    /// - Throws: Whatever the billing backend reports; the service logs it and goes on.
    func record(_ usage: UsageRecord) async throws
}

/// Billing that records nothing.
public struct NoBilling: Billing {
    /// Creates the do-nothing billing.
    public init() {}

    /// Does nothing.
    public func record(_ usage: UsageRecord) async throws {}
}

/// Keeps usage records, oldest first, for invoices to be computed from.
public protocol UsageLedger: Sendable {
    /// Adds a record after every record already kept.
    ///
    /// - Parameter usage: The record.
    /// - Throws: ``ImagesKitError`` when the record could not be kept.
    func append(_ usage: UsageRecord) async throws

    /// Returns every record kept, in the order they were appended.
    ///
    /// - Returns: The records of every account.
    /// - Throws: ``ImagesKitError`` when the ledger can't be read or holds a damaged record.
    func usage() async throws -> [UsageRecord]
}

/// The prices invoices are computed with; an application may replace any of them.
public struct RateCard: Hashable, Sendable {
    /// The price of one GB kept for a whole month.
    public var pricePerGBMonth: Decimal
    /// The hours a monthly price is spread over: the hourly price is the monthly one over this.
    public var hoursPerMonth: Int
    /// The currency of the prices, such as `USD`.
    public var currency: String
    /// The first moment charged; hours that begin earlier are free.
    public var billingStart: Date
    /// Image types that are never charged.
    public var freeTypes: Set<ImageType>

    /// The day the product started charging: 2021-09-01T00:00:00 UTC.
    public static let productBillingStart = Date(timeIntervalSince1970: 1_630_454_400)

    /// The product's own prices: $0.10 per GB-month over 730 hours, recovery images free.
    public static let standard = RateCard()

    /// Creates a rate card; every value defaults to the product's.
    ///
    /// - Parameters:
    ///   - pricePerGBMonth: The price of one GB for a month; not negative.
    ///   - hoursPerMonth: The hours the monthly price is spread over; positive.
    ///   - currency: The currency's code.
    ///   - billingStart: Hours beginning before this are free.
    ///   - freeTypes: Image types never charged.
    public init(
        pricePerGBMonth: Decimal = Decimal(sign: .plus, exponent: -2, significand: 10),
        hoursPerMonth: Int = 730,
        currency: String = "USD",
        billingStart: Date = RateCard.productBillingStart,
        freeTypes: Set<ImageType> = [.automatic]
    ) {
        self.pricePerGBMonth = pricePerGBMonth
        self.hoursPerMonth = hoursPerMonth
        self.currency = currency
        self.billingStart = billingStart
        self.freeTypes = freeTypes
    }

    func validate() throws {
        guard hoursPerMonth > 0, pricePerGBMonth >= 0 else {
            throw ImagesKitError(
                .invalidArgument,
                "the rate card needs a positive hoursPerMonth and a price that is not negative; "
                    + "got \(hoursPerMonth) hours and \(pricePerGBMonth) \(currency)")
        }
    }
}

/// Billing that keeps every record in a ledger, computes invoices from it, and passes each record
/// on to the application's own billing when there is one.
public struct MeteredBilling: Billing {
    /// Where records are kept.
    public let ledger: any UsageLedger
    /// The prices invoices use.
    public let rateCard: RateCard
    /// The application's billing, which receives every record after the ledger has kept it.
    public let downstream: (any Billing)?

    /// Creates metered billing.
    ///
    /// - Parameters:
    ///   - ledger: Where records are kept.
    ///   - rateCard: The prices; the product's by default.
    ///   - downstream: Billing that receives each record after the ledger, if any.
    public init(
        ledger: any UsageLedger, rateCard: RateCard = .standard, forwardingTo downstream: (any Billing)? = nil
    ) {
        self.ledger = ledger
        self.rateCard = rateCard
        self.downstream = downstream
    }

    /// Keeps the record in the ledger, then passes it to the downstream billing.
    ///
    /// - Parameter usage: The fact.
    /// - Throws: The ledger's error, in which case nothing is forwarded, or the downstream's error.
    public func record(_ usage: UsageRecord) async throws {
        try await ledger.append(usage)
        try await downstream?.record(usage)
    }

    /// Computes an account's charges for the hours that begin in a period.
    ///
    /// - Parameters:
    ///   - account: The account charged.
    ///   - from: The period's first moment (whole seconds count).
    ///   - to: The moment after the period's last; copies still running accrue until here.
    ///   - asOf: The present, for a period that has not ended: copies still running accrue only
    ///     until then. By default they accrue to the period's end.
    /// - Returns: One line per image and region with hours in the period.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` when `from` is not before `to` or the
    ///   rate card is unusable; the ledger's error when it can't be read.
    public func invoice(account: String, from: Date, to: Date, asOf: Date? = nil) async throws -> Invoice {
        let period = try BillingPeriod(from: from, to: to)
        try rateCard.validate()

        let records = try await ledger.usage().filter { $0.account == account }
        let present = asOf.map(BillingPeriod.seconds) ?? period.end
        let pricing = InvoicePricing(
            rateCard: rateCard, period: period, openEnd: max(period.start, min(period.end, present)))
        let lines = CopyUsage.pairing(records).compactMap(pricing.line).sorted(by: InvoiceLine.billingOrder)
        return Invoice(account: account, from: from, to: to, currency: rateCard.currency, lines: lines)
    }
}
