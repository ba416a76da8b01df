/// Stops the process when reported byte ranges are empty or past the filesystem's end, and,
/// for walks that promise order, when they come out of order or overlap.
final class RangeOrderCheck {
    /// What a walk promises about the order of its ranges.
    enum Order {
        /// Any order, as unwritten extents come in inode order.
        case any
        /// Increasing and apart.
        case increasing
        /// Increasing with a gap between any two, as merged ranges are.
        case coalesced
    }

    private let end: UInt64
    private let order: Order
    private var previousEnd: UInt64?

    /// Makes a check for ranges inside `0..<end` that come in `order`.
    init(within end: UInt64, order: Order) {
        self.end = end
        self.order = order
    }

    /// The closure to hand to a walk.
    var body: (Range<UInt64>) throws -> Void {
        { [self] range in check(range) }
    }

    private func check(_ range: Range<UInt64>) {
        guard !range.isEmpty, range.upperBound <= end else {
            fatalError("range \(range) is empty or past the filesystem's \(end) bytes")
        }
        if let previousEnd, order != .any {
            let isApart = order == .coalesced ? range.lowerBound > previousEnd : range.lowerBound >= previousEnd
            guard isApart else { fatalError("range \(range) overlaps or follows one ending at \(previousEnd)") }
        }
        previousEnd = range.upperBound
    }
}
