#!/usr/bin/env python3
"""Writes corpus.jsonl beside this file: made-up payment links and EMVCo payloads in the wallets'
real formats, inside chat messages, and near-misses that are not payments (help pages, wallet
domains' ordinary pages, prices, order numbers, payloads with a bad CRC). Deterministic (seeded).
Each line: {"text": ..., "payments": [[link or payload as written, wallet id], ...]}; the wallet
id is `unknown` for an EMVCo payload whose provider the registry does not list.
The CRC is computed with Python's binascii.crc_hqx (CRC-16/CCITT-FALSE), independently of the
Rust implementation."""
import binascii, json, os, random

rng = random.Random(20261203)
LOWER = "abcdefghijkmnopqrstuvwxyz0123456789"
ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

def pick(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))

def mixed(chars, n):
    while True:
        c = pick(chars, n)
        if any(ch.isdigit() for ch in c) and any(ch.isalpha() for ch in c):
            return c

def digits(n):
    return "".join(rng.choice("0123456789") for _ in range(n))

def tlv(tag, value):
    return f"{tag:02d}{len(value):02d}{value}"

def crc(payload):
    return "%04X" % binascii.crc_hqx(payload.encode(), 0xFFFF)

NAMES = [("BEST TRANSPORT", "BEIJING"), ("XIAOMING NOODLES", "SHANGHAI"), ("LUCKY FRUIT", "HANGZHOU"),
         ("HAPPY TEA", "SHENZHEN"), ("GREEN MART", "CHENGDU"), ("SUNNY BAKERY", "WUHAN")]

def emvco(provider, amount=True, corrupt=False):
    name, city = rng.choice(NAMES)
    body = tlv(0, "01") + tlv(1, rng.choice(["11", "12"]))
    if provider == "unionpay":
        if rng.random() < 0.5:
            body += tlv(15, "62" + digits(rng.choice([14, 16, 18])))
        else:
            body += tlv(rng.randint(26, 51), tlv(0, rng.choice(["A000000333", "a000000333"])) + tlv(1, digits(15)))
    else:
        guid = rng.choice(["D15600000000", "com.example.pay", "A000000677010111", "sg.com.nets"])
        body += tlv(rng.randint(26, 51), tlv(0, guid) + tlv(1, digits(12)))
    body += tlv(52, rng.choice(["5411", "5812", "4111", "5499"])) + tlv(53, "156")
    if amount:
        body += tlv(54, f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}")
    body += tlv(58, "CN") + tlv(59, name) + tlv(60, city)
    if rng.random() < 0.4:
        body += tlv(64, tlv(0, "ZH") + tlv(1, rng.choice(["最佳运输", "小明面馆", "幸运水果"])) + tlv(2, rng.choice(["北京", "上海", "杭州"])))
    if rng.random() < 0.5:
        body += tlv(62, tlv(5, digits(10)) + tlv(7, "A" + digits(7)))
    body += "6304"
    c = crc(body)
    if corrupt:
        c = "%04X" % ((int(c, 16) + rng.randint(1, 0xFFFE)) % 0x10000)
    return body + c

def positive():
    kind = rng.randrange(14)
    if kind == 0:
        link = f"https://qr.alipay.com/{rng.choice(['fkx', 'tsx', 'bax', 'stx'])}{mixed(LOWER, rng.randint(14, 20))}"
        return rng.choice([f"付款码在这 {link} 直接支付宝扫", f"AA 一下，{link}", f"{link}\n谢谢老板"]), [[link, "alipay"]]
    if kind == 1:
        link = f"alipays://platformapi/startapp?appId=20000067&url=https%3A%2F%2Fqr.alipay.com%2Ffkx{mixed(LOWER, 16)}"
        return f"手机上点这个打开支付宝：{link} 付 38 元", [[link, "alipay"]]
    if kind == 2:
        link = f"alipays://platformapi/startapp?saId=10000007&qrcode=https%3A%2F%2Fqr.alipay.com%2Fbax{mixed(LOWER, 18)}"
        return f"{link}", [[link, "alipay"]]
    if kind == 3:
        link = rng.choice([f"alipay://platformapi/startapp?appId=09999988&actionType=toAccount&goBack=NO&amount={rng.randint(1, 500)}&userId=2088{digits(12)}",
                           f"alipayqr://platformapi/startapp?saId=10000007"])
        return f"转账链接 {link}，到账说一声", [[link, "alipay"]]
    if kind == 4:
        link = rng.choice([f"https://mclient.alipay.com/cashier/mobilepay.htm?alipay_exterface_invoke_assign_target=invoke_{mixed(LOWER, 32)}&alipay_exterface_invoke_assign_sign=_{mixed(LOWER, 24)}",
                           f"https://openapi.alipay.com/gateway.do?charset=utf-8&method=alipay.trade.wap.pay&sign_type=RSA2&timestamp=2024-09-{rng.randint(10, 28)}+12%3A00%3A00&version=1.0&app_id=2021{digits(12)}",
                           f"https://excashier.alipay.com/standard/auth.htm?payOrderId={mixed(LOWER, 32)}.00"])
        return f"订单已生成，请在 15 分钟内付款：{link}", [[link, "alipay"]]
    if kind == 5:
        link = f"weixin://wxpay/bizpayurl?pr={mixed(ALNUM, 7)}"
        return rng.choice([f"扫不了码就点 {link}", f"{link} 微信支付", f"付款:{link}。"]), [[link, "wechat-pay"]]
    if kind == 6:
        link = f"weixin://wxpay/bizpayurl?sign={mixed('0123456789ABCDEF', 32)}&appid=wx{mixed('0123456789abcdef', 16)}&mch_id={digits(10)}&product_id={digits(6)}&time_stamp={digits(10)}&nonce_str={mixed(ALNUM, 16)}"
        return f"商品二维码内容：{link}", [[link, "wechat-pay"]]
    if kind == 7:
        link = f"wxp://f2f0{mixed(ALNUM + '-_', rng.randint(24, 36))}"
        return rng.choice([f"我的收款码 {link}", f"直接转我吧 {link} 🙏", f"({link})"]), [[link, "wechat-pay"]]
    if kind == 8:
        link = f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{digits(20)}{mixed('0123456789abcdef', 12)}&package={digits(10)}"
        return f"H5 支付链接 {link} 在手机浏览器打开", [[link, "wechat-pay"]]
    if kind == 9:
        link = rng.choice([f"upwallet://native/codepay", f"upwallet://html/open.95516.com/s/open/html/oauth.html?appId={mixed('0123456789abcdef', 32)}",
                           f"upwallet://rn/rnhtmlridingcode"])
        return f"云闪付打开 {link} 就能付", [[link, "unionpay"]]
    if kind == 10:
        link = f"https://qr.95516.com/0001{rng.choice(['0000', '0001', '0003'])}/{digits(rng.choice([26, 30, 32]))}"
        return rng.choice([f"银联二维码：{link}", f"{link} 云闪付扫一扫", f"用这个付 {link}"]), [[link, "unionpay"]]
    if kind == 11:
        link = f"jdpay://?params=%7B%22orderId%22%3A%22{digits(12)}%22%2C%22merchant%22%3A%22{digits(9)}%22%7D"
        return f"京东钱包支付 {link}", [[link, "jd-pay"]]
    if kind == 12:
        p = emvco("unionpay", amount=rng.random() < 0.7)
        return rng.choice([f"银联收款码内容 {p}", f"{p}", f"付款码文本：{p}\n金额已含"]), [[p, "unionpay"]]
    p = emvco("other", amount=rng.random() < 0.7)
    return rng.choice([f"Pay by QR: {p}", f"{p}", f"商户码 {p} 可以用"]), [[p, "unknown"]]

def negative():
    kind = rng.randrange(16)
    if kind == 0:
        return rng.choice(["支付宝帮助 https://www.alipay.com/help", "https://cshall.alipay.com/lab/help_detail.htm?help_id=2015",
                           "看 https://render.alipay.com/p/f/fd-j6lzqrgm/guiding.html 说明", "https://www.alipay.com/"])
    if kind == 1:
        return rng.choice(["微信支付商户平台 https://pay.weixin.qq.com/index.php", "https://pay.weixin.qq.com/wiki/doc/apiv3/index.shtml",
                           "https://pay.weixin.qq.com/index.php/public/wechatpay", "https://kf.qq.com/faq/wxpay.html"])
    if kind == 2:
        return rng.choice(["https://qr.alipay.com/", "https://qr.alipay.com/help.htm", "https://qr.alipay.com/abc",
                           f"https://qr.alipay.com/{pick('abcdefghijklmnop', 12)}.png"])
    if kind == 3:
        return rng.choice(["weixin://dl/scan", "weixin://dl/moments", f"weixin://dl/business/?t={mixed(ALNUM, 13)}", "weixin://", "打开 weixin://dl/profile 加我"])
    if kind == 4:
        return rng.choice(["wxp://", f"wxp://{mixed(ALNUM, 6)}", "https://qr.95516.com/", "https://qr.95516.com/help", "upwallet://"])
    if kind == 5:
        return rng.choice(["https://cn.unionpay.com/upowhtml/cn/templates/index/index.html", "https://www.95516.com/static/union/pages/index/index.html",
                           "https://www.jdpay.com/", "https://pay.jd.com/ 京东收银台说明", "https://www.unionpayintl.com/cn/"])
    if kind == 6:
        return rng.choice([f"这件 ¥{rng.randint(10, 999)}.00，用支付宝付", "支付宝转我 200 就行", "微信支付还是支付宝？", "我用云闪付",
                           "京东支付满 100 减 10", "你支付宝账号多少", "已用微信支付 ¥38.50"])
    if kind == 7:
        return rng.choice([f"订单号 000201{digits(14)}", f"流水 000201{digits(20)} 请核对", f"编号0002012024{digits(8)}",
                           f"ID: 000201{digits(40)}"])
    if kind == 8:
        return f"付款码 {emvco(rng.choice(['unionpay', 'other']), corrupt=True)}"
    if kind == 9:
        p = emvco("unionpay")
        return f"截断了：{p[:len(p) - rng.randint(6, 20)]}"
    if kind == 10:
        p = emvco("unionpay")
        # One character of the data changed: the CRC no longer matches.
        i = rng.randint(20, len(p) - 10)
        c = "7" if p[i] != "7" else "8"
        return f"{p[:i]}{c}{p[i + 1:]}"
    if kind == 11:
        p = emvco("unionpay")
        return f"x{p}"
    if kind == 12:
        return rng.choice(["https://openapi.alipay.com/ 开放平台", "https://opendocs.alipay.com/open/203/105288", "https://mclient.alipay.com/home.htm",
                           "https://wx.tenpay.com/", "https://www.tenpay.com/v3/"])
    if kind == 13:
        return rng.choice(["链接 https://item.taobao.com/item.htm?id=6782341 支付宝付", "https://www.jd.com/ 京东", "https://example.com/pay?method=alipay",
                           "see https://github.com/alipay/alipay-sdk-java-all"])
    if kind == 14:
        return rng.choice(["alipays", "alipay:// 是支付宝的 scheme 前缀", "upwallet 是云闪付", "jdpay:// 这个不带参数"])
    return rng.choice([f"0002010102{digits(30)}", "000201", f"电话 000201 转 {digits(4)}", f"6304{mixed('0123456789ABCDEF', 4)}"])

cases = []
for _ in range(90):
    text, found = positive()
    cases.append({"text": text, "payments": found})
# Two in one message.
for _ in range(6):
    (a, fa), (b, fb) = positive(), positive()
    cases.append({"text": f"{a} 或者 {b}", "payments": fa + fb})
for _ in range(70):
    cases.append({"text": negative(), "payments": []})

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
