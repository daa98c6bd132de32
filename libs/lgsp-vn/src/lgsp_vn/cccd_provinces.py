"""The province codes a CCCD number carries: the birth-registration province, as coded at issue.

A CCCD number never changes, and its first three digits name the province where the birth was
registered, as the 63 provinces were coded before the 2025 reorganisation (Circular
59/2021/TT-BCA, appendix "mã tỉnh, thành phố trực thuộc trung ương nơi công dân đăng ký khai
sinh"): 001 Hà Nội ... 077 Bà Rịa - Vũng Tàu ... 096 Cà Mau. These codes stay valid in identity
checks after 1 July 2025, so this table is deliberately separate from today's administrative
map (`lgsp_vn.admin_units`, 34 provinces): a merged province's code must not stop validating
the cards issued under it. The names are as the appendix writes them.
"""

# 2-digit official province code (the national list, Decision 124/2004/QĐ-TTg as updated until
# 30/6/2025) -> name; the CCCD code is the same code zero-padded to 3 digits.
_OFFICIAL_CODES: dict[str, str] = {
    "01": "Hà Nội",
    "02": "Hà Giang",
    "04": "Cao Bằng",
    "06": "Bắc Kạn",
    "08": "Tuyên Quang",
    "10": "Lào Cai",
    "11": "Điện Biên",
    "12": "Lai Châu",
    "14": "Sơn La",
    "15": "Yên Bái",
    "17": "Hòa Bình",
    "19": "Thái Nguyên",
    "20": "Lạng Sơn",
    "22": "Quảng Ninh",
    "24": "Bắc Giang",
    "25": "Phú Thọ",
    "26": "Vĩnh Phúc",
    "27": "Bắc Ninh",
    "30": "Hải Dương",
    "31": "Hải Phòng",
    "33": "Hưng Yên",
    "34": "Thái Bình",
    "35": "Hà Nam",
    "36": "Nam Định",
    "37": "Ninh Bình",
    "38": "Thanh Hóa",
    "40": "Nghệ An",
    "42": "Hà Tĩnh",
    "44": "Quảng Bình",
    "45": "Quảng Trị",
    "46": "Thừa Thiên Huế",
    "48": "Đà Nẵng",
    "49": "Quảng Nam",
    "51": "Quảng Ngãi",
    "52": "Bình Định",
    "54": "Phú Yên",
    "56": "Khánh Hòa",
    "58": "Ninh Thuận",
    "60": "Bình Thuận",
    "62": "Kon Tum",
    "64": "Gia Lai",
    "66": "Đắk Lắk",
    "67": "Đắk Nông",
    "68": "Lâm Đồng",
    "70": "Bình Phước",
    "72": "Tây Ninh",
    "74": "Bình Dương",
    "75": "Đồng Nai",
    "77": "Bà Rịa - Vũng Tàu",
    "79": "Hồ Chí Minh",
    "80": "Long An",
    "82": "Tiền Giang",
    "83": "Bến Tre",
    "84": "Trà Vinh",
    "86": "Vĩnh Long",
    "87": "Đồng Tháp",
    "89": "An Giang",
    "91": "Kiên Giang",
    "92": "Cần Thơ",
    "93": "Hậu Giang",
    "94": "Sóc Trăng",
    "95": "Bạc Liêu",
    "96": "Cà Mau",
}

# 3-digit CCCD birth-registration code -> province name.
CCCD_PROVINCE_CODES: dict[str, str] = {f"0{code}": name for code, name in _OFFICIAL_CODES.items()}
