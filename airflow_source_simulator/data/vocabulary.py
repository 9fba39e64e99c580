"""Word lists the generator picks from. Plain ASCII letters only: every value is safe in any engine."""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ben", "Carla", "Chen", "Dara", "David", "Elena", "Emil", "Fatima",
    "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jade", "Jonas", "Kai", "Karin", "Leo",
    "Lena", "Liam", "Maya", "Mateo", "Nadia", "Nils", "Nora", "Omar", "Olga", "Paula", "Pedro",
    "Quinn", "Rosa", "Rui", "Sara", "Sven", "Tariq", "Tess", "Uma", "Victor", "Wen", "Yara",
    "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Adams", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Nakamura", "Novak", "Olsen", "Patel", "Quinn", "Rossi",
    "Schmidt", "Silva", "Tanaka", "Umar", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Kim",
    "Lopez", "Meyer", "Nguyen", "Owens", "Park", "Reyes", "Santos", "Torres", "Walsh",
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

CATEGORIES = ("Electronics", "Furniture", "Office", "Stationery", "Accessories", "Decor")
PRODUCT_NOUNS = {
    "Electronics": ("Wireless Mouse", "USB-C Hub", "Noise-Cancelling Headphones", "Webcam"),
    "Furniture": ("Standing Desk", "Ergonomic Chair", "Bookshelf", "Filing Cabinet"),
    "Office": ("Desk Lamp", "Monitor Stand", "Whiteboard", "Paper Shredder"),
    "Stationery": ("Notebook Set", "Fountain Pen", "Sticky Notes", "Pencil Case"),
    "Accessories": ("Laptop Sleeve", "Cable Organizer", "Mouse Pad", "Phone Stand"),
    "Decor": ("Wall Clock", "Desk Plant", "Framed Print", "Table Vase"),
}
PRODUCT_ADJECTIVES = ("Classic", "Compact", "Deluxe", "Essential", "Modern", "Premium", "Studio", "Urban")
PRICE_DOLLARS = {  # inclusive range of whole dollars; every price ends in .99
    "Electronics": (19, 249),
    "Furniture": (79, 499),
    "Office": (14, 129),
    "Stationery": (3, 39),
    "Accessories": (9, 59),
    "Decor": (12, 89),
}

CAMPAIGN_THEMES = (
    "New Year Kickoff", "Spring Refresh", "Home Office Upgrade", "Loyalty Rewards", "Back to Work",
    "Summer Essentials", "Desk Makeover", "Weekend Flash Sale",
)

ORDER_STATUSES = ("pending", "shipped", "completed", "cancelled")
PAYMENT_METHODS = ("credit_card", "paypal", "bank_transfer", "gift_card", "coupon")
PAYMENT_METHOD_WEIGHTS = (45, 25, 15, 10, 5)  # percent
